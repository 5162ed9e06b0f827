"""Schema profiles as data: folders of XSDs plus a ``profile.yaml``, compiled once and chosen per message."""

from __future__ import annotations

from gateway.profiles._model import ModelReaders
from gateway.profiles.descriptor import ProfileDescriptor, load_descriptor
from gateway.profiles.profile import Profile
from gateway.profiles.registry import ProfileRegistry
from gateway.profiles.versions import VersionChoice, VersionPlan

__all__ = ["ModelReaders", "Profile", "ProfileDescriptor", "ProfileRegistry", "VersionChoice", "VersionPlan",
           "load_descriptor"]
