"""Who may do what on the broker: the network's identities, their ACLs, and ``oco-gateway provision``."""
