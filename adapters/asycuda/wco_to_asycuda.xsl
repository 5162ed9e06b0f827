<?xml version="1.0" encoding="UTF-8"?>
<!-- OCO WCO DM declaration (DEC-OCO:1) to an ASYCUDA World detailed declaration, ready for XML import.

     Element names, spellings (Suppplementary_unit_code, Deffered_payment_reference, Alpha_coeficient...) and
     order are those of real ASYCUDA World files (see shared/interop/asycuda/element-paths.txt); an empty value
     is a <null/> child where ASYCUDA writes one, an empty element where it does not (numbers and dates).
     Registration, assessment, taxes and reference names (office, country, currency names) are left for
     ASYCUDA to fill in: it computes them, the trader does not declare them.
     Dates are M/D/YY without leading zeros (11/19/25). -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:md="urn:wco:datamodel:WCO:DocumentMetaData-OCO:1"
    xmlns:dec="urn:wco:datamodel:WCO:DEC-OCO:1"
    xmlns:ds="urn:wco:datamodel:WCO:DS-OCO:1"
    exclude-result-prefixes="md dec ds">

  <xsl:output method="xml" encoding="UTF-8" indent="yes"/>
  <xsl:strip-space elements="*"/>

  <xsl:variable name="d" select="(/md:MetaData/dec:Declaration | /dec:Declaration)[1]"/>
  <xsl:variable name="gs" select="$d/dec:GoodsShipment"/>
  <xsl:variable name="items" select="$gs/dec:GovernmentAgencyGoodsItem"/>
  <xsl:variable name="export" select="starts-with($d/dec:TypeCode, 'EX')"/>
  <xsl:variable name="transport"
      select="($gs/dec:Consignment/dec:ArrivalTransportMeans | $gs/dec:Consignment/dec:DepartureTransportMeans)[1]"/>
  <xsl:variable name="border" select="$d/dec:BorderTransportMeans"/>
  <xsl:variable name="invoice-amount" select="number($d/dec:InvoiceAmount)"/>
  <xsl:variable name="invoice-currency" select="string($d/dec:InvoiceAmount/@currencyID)"/>
  <xsl:variable name="declared-rate"
      select="$d/dec:CurrencyExchange[dec:CurrencyTypeCode = $invoice-currency]/dec:RateNumeric"/>
  <!-- Without an exchange rate for the invoice currency it is the national currency. -->
  <xsl:variable name="rate">
    <xsl:choose>
      <xsl:when test="$declared-rate"><xsl:value-of select="number($declared-rate)"/></xsl:when>
      <xsl:otherwise>1</xsl:otherwise>
    </xsl:choose>
  </xsl:variable>
  <xsl:variable name="customs-value" select="sum($items/dec:CustomsValueAmount)"/>
  <xsl:variable name="item-count" select="count($items)"/>
  <xsl:variable name="issued" select="string($d/dec:IssueDateTime/ds:DateTimeString)"/>
  <xsl:variable name="first-origin" select="string($items[1]/dec:Origin[1]/dec:CountryCode)"/>
  <xsl:variable name="gross-weight">
    <xsl:choose>
      <xsl:when test="$d/dec:TotalGrossMassMeasure"><xsl:value-of select="$d/dec:TotalGrossMassMeasure"/></xsl:when>
      <xsl:otherwise>
        <xsl:value-of select="sum($items/dec:Commodity/dec:GoodsMeasure/dec:GrossMassMeasure)"/>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:variable>

  <!-- Writes the value, or <null/> when it is empty. -->
  <xsl:template name="or-null">
    <xsl:param name="value"/>
    <xsl:choose>
      <xsl:when test="normalize-space($value) != ''"><xsl:value-of select="normalize-space($value)"/></xsl:when>
      <xsl:otherwise><null/></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <!-- YYYYMMDD... (DateTimeString formats 102 and 304) to M/D/YY. -->
  <xsl:template name="date">
    <xsl:param name="value"/>
    <xsl:if test="string-length($value) &gt;= 8">
      <xsl:value-of select="concat(number(substring($value, 5, 2)), '/', number(substring($value, 7, 2)), '/',
                                   substring($value, 3, 2))"/>
    </xsl:if>
  </xsl:template>

  <xsl:template name="null-element">
    <xsl:param name="name"/>
    <xsl:element name="{$name}"><null/></xsl:element>
  </xsl:template>

  <!-- A cost line of the declaration (Gs_*) or of an item (item_*) that OCO declarations do not carry. -->
  <xsl:template name="no-cost">
    <xsl:param name="name"/>
    <xsl:param name="code-null" select="true()"/>
    <xsl:param name="currency-name" select="'No foreign currency'"/>
    <xsl:element name="{$name}">
      <Amount_national_currency>0</Amount_national_currency>
      <Amount_foreign_currency>0</Amount_foreign_currency>
      <Currency_code><xsl:if test="$code-null"><null/></xsl:if></Currency_code>
      <Currency_name>
        <xsl:call-template name="or-null"><xsl:with-param name="value" select="$currency-name"/></xsl:call-template>
      </Currency_name>
      <Currency_rate>0</Currency_rate>
    </xsl:element>
  </xsl:template>

  <xsl:template match="/">
    <xsl:if test="not($d)">
      <xsl:message terminate="yes">not an OCO WCO DM declaration (no DEC-OCO:1 Declaration)</xsl:message>
    </xsl:if>
    <ASYCUDA>
      <xsl:call-template name="export-release"/>
      <xsl:call-template name="assessment-notice"/>
      <Global_taxes/>
      <xsl:call-template name="property"/>
      <xsl:call-template name="identification"/>
      <xsl:call-template name="traders"/>
      <xsl:call-template name="declarant"/>
      <xsl:call-template name="general-information"/>
      <xsl:call-template name="transport"/>
      <xsl:call-template name="financial"/>
      <Warehouse>
        <Identification><null/></Identification>
        <Delay/>
      </Warehouse>
      <xsl:call-template name="transit"/>
      <xsl:call-template name="valuation"/>
      <xsl:for-each select="$items">
        <xsl:sort select="dec:SequenceNumeric" data-type="number"/>
        <xsl:call-template name="item"/>
      </xsl:for-each>
    </ASYCUDA>
  </xsl:template>

  <xsl:template name="export-release">
    <Export_release>
      <Date_of_exit/>
      <Time_of_exit/>
      <Actual_office_of_exit_code><null/></Actual_office_of_exit_code>
      <Actual_office_of_exit_name><null/></Actual_office_of_exit_name>
      <Exit_reference><null/></Exit_reference>
      <Comments><null/></Comments>
    </Export_release>
  </xsl:template>

  <xsl:template name="assessment-notice">
    <Assessment_notice>
      <Registration_year/>
      <Assessment_year/>
      <Total_item_taxes/>
      <Statement_number><null/></Statement_number>
      <Statement_date/>
      <Statement_serial><null/></Statement_serial>
      <Global_taxes/>
    </Assessment_notice>
  </xsl:template>

  <xsl:template name="property">
    <Property>
      <Sad_flow><xsl:choose><xsl:when test="$export">E</xsl:when><xsl:otherwise>I</xsl:otherwise></xsl:choose></Sad_flow>
      <Forms>
        <Number_of_the_form>1</Number_of_the_form>
        <!-- The first SAD form holds one item, each continuation form three. -->
        <Total_number_of_forms><xsl:value-of select="1 + ceiling(($item-count - 1) div 3)"/></Total_number_of_forms>
      </Forms>
      <Nbers>
        <Number_of_loading_lists/>
        <!-- The declared count, not a recount: ASYCUDA checks one against the other. -->
        <Total_number_of_items>
          <xsl:choose>
            <xsl:when test="$d/dec:GoodsItemQuantity"><xsl:value-of select="$d/dec:GoodsItemQuantity"/></xsl:when>
            <xsl:otherwise><xsl:value-of select="$item-count"/></xsl:otherwise>
          </xsl:choose>
        </Total_number_of_items>
        <Total_number_of_packages><xsl:value-of select="$d/dec:TotalPackageQuantity"/></Total_number_of_packages>
      </Nbers>
      <Place_of_declaration><null/></Place_of_declaration>
      <Date_of_declaration>
        <xsl:call-template name="date"><xsl:with-param name="value" select="$issued"/></xsl:call-template>
      </Date_of_declaration>
      <Selected_page>1</Selected_page>
    </Property>
  </xsl:template>

  <xsl:template name="identification">
    <Identification>
      <Office_segment>
        <Customs_clearance_office_code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:DeclarationOfficeID"/></xsl:call-template>
        </Customs_clearance_office_code>
        <Customs_Clearance_office_name><null/></Customs_Clearance_office_name>
      </Office_segment>
      <Type>
        <!-- WCO IMA / EXA: ASYCUDA's model is IM or EX plus the general procedure digit (IM 4, EX 1). -->
        <Type_of_declaration>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="substring($d/dec:TypeCode, 1, 2)"/></xsl:call-template>
        </Type_of_declaration>
        <Declaration_gen_procedure_code>
          <xsl:variable name="procedure" select="string($items[1]/dec:GovernmentProcedure[1]/dec:CurrentCode)"/>
          <xsl:choose>
            <xsl:when test="$procedure != ''"><xsl:value-of select="substring($procedure, 1, 1)"/></xsl:when>
            <xsl:when test="$export">1</xsl:when>
            <xsl:otherwise>4</xsl:otherwise>
          </xsl:choose>
        </Declaration_gen_procedure_code>
        <Type_of_transit_document><null/></Type_of_transit_document>
      </Type>
      <Manifest_reference_number>
        <xsl:call-template name="or-null">
          <xsl:with-param name="value" select="$gs/dec:PreviousDocument[dec:TypeCode = '785'][1]/dec:ID"/>
        </xsl:call-template>
      </Manifest_reference_number>
      <Registration>
        <Serial_number><null/></Serial_number>
        <Number/>
        <Date/>
      </Registration>
      <Assessment>
        <Serial_number><null/></Serial_number>
        <Number/>
        <Date/>
      </Assessment>
      <receipt>
        <Serial_number><null/></Serial_number>
        <Number/>
        <Date/>
      </receipt>
    </Identification>
  </xsl:template>

  <xsl:template name="traders">
    <Traders>
      <Exporter>
        <Exporter_code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:Exporter/dec:ID"/></xsl:call-template>
        </Exporter_code>
        <Exporter_name>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:Exporter/dec:Name"/></xsl:call-template>
        </Exporter_name>
      </Exporter>
      <Consignee>
        <Consignee_code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$gs/dec:Importer/dec:ID"/></xsl:call-template>
        </Consignee_code>
        <Consignee_name>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$gs/dec:Importer/dec:Name"/></xsl:call-template>
        </Consignee_name>
      </Consignee>
      <Financial>
        <Financial_code><null/></Financial_code>
        <Financial_name><null/></Financial_name>
      </Financial>
    </Traders>
  </xsl:template>

  <xsl:template name="declarant">
    <Declarant>
      <Declarant_code>
        <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:Declarant/dec:ID"/></xsl:call-template>
      </Declarant_code>
      <Declarant_name>
        <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:Declarant/dec:Name"/></xsl:call-template>
      </Declarant_name>
      <Declarant_representative><null/></Declarant_representative>
      <Reference>
        <Year><xsl:value-of select="substring($issued, 1, 4)"/></Year>
        <Number>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:FunctionalReferenceID"/></xsl:call-template>
        </Number>
      </Reference>
    </Declarant>
  </xsl:template>

  <xsl:template name="general-information">
    <General_information>
      <Country>
        <Country_first_destination><null/></Country_first_destination>
        <Trading_country>
          <xsl:call-template name="or-null">
            <xsl:with-param name="value"
                select="($gs/dec:ExportCountry/dec:ID[not($export)] | $gs/dec:Destination/dec:CountryCode[$export])[1]"/>
          </xsl:call-template>
        </Trading_country>
        <Export>
          <Export_country_code>
            <xsl:call-template name="or-null"><xsl:with-param name="value" select="$gs/dec:ExportCountry/dec:ID"/></xsl:call-template>
          </Export_country_code>
          <Export_country_name><null/></Export_country_name>
          <Export_country_region><null/></Export_country_region>
        </Export>
        <Destination>
          <Destination_country_code>
            <xsl:call-template name="or-null"><xsl:with-param name="value" select="$gs/dec:Destination/dec:CountryCode"/></xsl:call-template>
          </Destination_country_code>
          <Destination_country_name><null/></Destination_country_name>
          <Destination_country_region><null/></Destination_country_region>
        </Destination>
        <!-- One origin for every item, or MANY, as ASYCUDA summarises box 16. -->
        <Country_of_origin_name>
          <xsl:choose>
            <xsl:when test="$items/dec:Origin[1]/dec:CountryCode[. != $first-origin]">MANY</xsl:when>
            <xsl:otherwise>
              <xsl:call-template name="or-null"><xsl:with-param name="value" select="$first-origin"/></xsl:call-template>
            </xsl:otherwise>
          </xsl:choose>
        </Country_of_origin_name>
      </Country>
      <Value_details>0</Value_details>
      <CAP><null/></CAP>
      <Additional_information>
        <xsl:call-template name="or-null">
          <xsl:with-param name="value" select="$d/dec:AdditionalInformation[1]/dec:StatementDescription"/>
        </xsl:call-template>
      </Additional_information>
      <Comments_free_text><null/></Comments_free_text>
    </General_information>
  </xsl:template>

  <xsl:template name="transport">
    <Transport>
      <Means_of_transport>
        <Departure_arrival_information>
          <Identity>
            <xsl:call-template name="or-null"><xsl:with-param name="value" select="$transport/dec:Name"/></xsl:call-template>
          </Identity>
          <Nationality>
            <xsl:call-template name="or-null">
              <xsl:with-param name="value"
                  select="($transport/dec:RegistrationNationalityCode | $border/dec:RegistrationNationalityCode)[1]"/>
            </xsl:call-template>
          </Nationality>
        </Departure_arrival_information>
        <Border_information>
          <Identity>
            <xsl:call-template name="or-null"><xsl:with-param name="value" select="$border/dec:Name"/></xsl:call-template>
          </Identity>
          <Nationality>
            <xsl:call-template name="or-null">
              <xsl:with-param name="value" select="$border/dec:RegistrationNationalityCode"/>
            </xsl:call-template>
          </Nationality>
          <Mode>
            <xsl:call-template name="or-null"><xsl:with-param name="value" select="$border/dec:ModeCode"/></xsl:call-template>
          </Mode>
        </Border_information>
        <Inland_mode_of_transport><null/></Inland_mode_of_transport>
      </Means_of_transport>
      <Container_flag>false</Container_flag>
      <Delivery_terms>
        <Code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$gs/dec:TradeTerms/dec:ConditionCode"/></xsl:call-template>
        </Code>
        <Place>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$gs/dec:TradeTerms/dec:LocationName"/></xsl:call-template>
        </Place>
        <Situation><null/></Situation>
      </Delivery_terms>
      <Border_office>
        <Code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:ExitOffice/dec:ID"/></xsl:call-template>
        </Code>
        <Name><null/></Name>
      </Border_office>
      <Place_of_loading>
        <xsl:variable name="loading" select="$gs/dec:Consignment/dec:LoadingLocation"/>
        <Code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$loading/dec:ID"/></xsl:call-template>
        </Code>
        <Name>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$loading/dec:Name"/></xsl:call-template>
        </Name>
        <!-- A UN/LOCODE starts with the country's ISO code. -->
        <Country>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="substring($loading/dec:ID, 1, 2)"/></xsl:call-template>
        </Country>
      </Place_of_loading>
      <Location_of_goods>
        <xsl:call-template name="or-null">
          <xsl:with-param name="value" select="$gs/dec:Consignment/dec:GoodsLocation/dec:ID"/>
        </xsl:call-template>
      </Location_of_goods>
    </Transport>
  </xsl:template>

  <xsl:template name="financial">
    <Financial>
      <Financial_transaction><code1><null/></code1><code2><null/></code2></Financial_transaction>
      <Bank><Code><null/></Code><Name><null/></Name><Branch><null/></Branch><Reference><null/></Reference></Bank>
      <Terms><Code><null/></Code><Description><null/></Description></Terms>
      <Total_invoice/>
      <Deffered_payment_reference><null/></Deffered_payment_reference>
      <Mode_of_payment><null/></Mode_of_payment>
      <Amounts><Total_manual_taxes/><Global_taxes/><Totals_taxes/></Amounts>
      <Guarantee>
        <Name><null/></Name>
        <Amount>0</Amount>
        <Date/>
        <Excluded_country><Code><null/></Code><Name><null/></Name></Excluded_country>
      </Guarantee>
    </Financial>
  </xsl:template>

  <xsl:template name="transit">
    <Transit>
      <Principal><Code><null/></Code><Name><null/></Name><Representative><null/></Representative></Principal>
      <Signature><Place><null/></Place><Date/></Signature>
      <Destination><Office><null/></Office><Country><null/></Country></Destination>
      <Seals><Number/><Identity><null/></Identity></Seals>
      <Result_of_control><null/></Result_of_control>
      <Time_limit/>
      <Officer_name><null/></Officer_name>
    </Transit>
  </xsl:template>

  <xsl:template name="valuation">
    <Valuation>
      <Calculation_working_mode>0</Calculation_working_mode>
      <Weight><Gross_weight><xsl:value-of select="$gross-weight"/></Gross_weight></Weight>
      <Total_cost>0</Total_cost>
      <Total_CIF><xsl:value-of select="format-number($customs-value, '0.00')"/></Total_CIF>
      <Gs_Invoice>
        <Amount_national_currency>
          <xsl:value-of select="format-number($invoice-amount * $rate, '0.00')"/>
        </Amount_national_currency>
        <Amount_foreign_currency><xsl:value-of select="format-number($invoice-amount, '0.00')"/></Amount_foreign_currency>
        <Currency_code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$invoice-currency"/></xsl:call-template>
        </Currency_code>
        <Currency_name><null/></Currency_name>
        <Currency_rate><xsl:value-of select="$rate"/></Currency_rate>
      </Gs_Invoice>
      <xsl:call-template name="no-cost"><xsl:with-param name="name" select="'Gs_external_freight'"/></xsl:call-template>
      <xsl:call-template name="no-cost"><xsl:with-param name="name" select="'Gs_internal_freight'"/></xsl:call-template>
      <xsl:call-template name="no-cost"><xsl:with-param name="name" select="'Gs_insurance'"/></xsl:call-template>
      <xsl:call-template name="no-cost"><xsl:with-param name="name" select="'Gs_other_cost'"/></xsl:call-template>
      <xsl:call-template name="no-cost"><xsl:with-param name="name" select="'Gs_deduction'"/></xsl:call-template>
      <Total>
        <Total_invoice><xsl:value-of select="format-number($invoice-amount, '0.00')"/></Total_invoice>
        <Total_weight><xsl:value-of select="$gross-weight"/></Total_weight>
      </Total>
    </Valuation>
  </xsl:template>

  <!-- Certificates and the invoice travel with each item as attached documents, as ASYCUDA keeps them. -->
  <xsl:template name="attached-documents">
    <xsl:for-each select="$d/dec:AuthorisationHolder">
      <Attached_documents>
        <Attached_document_code><xsl:value-of select="dec:CategoryCode"/></Attached_document_code>
        <Attached_document_name>
          <xsl:choose>
            <xsl:when test="starts-with(dec:CategoryCode, 'AEO')">Authorised Economic Operator certificate</xsl:when>
            <xsl:otherwise>Authorisation</xsl:otherwise>
          </xsl:choose>
        </Attached_document_name>
        <Attached_document_reference><xsl:value-of select="dec:ID"/></Attached_document_reference>
        <Attached_document_from_rule>1</Attached_document_from_rule>
        <Attached_document_date/>
      </Attached_documents>
    </xsl:for-each>
    <xsl:for-each select="$gs/dec:AEOMutualRecognitionParty">
      <Attached_documents>
        <Attached_document_code>MRA</Attached_document_code>
        <Attached_document_name>
          <xsl:value-of select="normalize-space(concat('AEO recognised under a mutual recognition arrangement ',
                                                       dec:RoleCode))"/>
        </Attached_document_name>
        <Attached_document_reference><xsl:value-of select="dec:ID"/></Attached_document_reference>
        <Attached_document_from_rule>1</Attached_document_from_rule>
        <Attached_document_date/>
      </Attached_documents>
    </xsl:for-each>
    <xsl:for-each select="$gs/dec:Invoice">
      <Attached_documents>
        <Attached_document_code>380</Attached_document_code>
        <Attached_document_name>Commercial invoice</Attached_document_name>
        <Attached_document_reference><xsl:value-of select="dec:ID"/></Attached_document_reference>
        <Attached_document_from_rule>1</Attached_document_from_rule>
        <Attached_document_date>
          <xsl:call-template name="date">
            <xsl:with-param name="value" select="string(dec:IssueDateTime/ds:DateTimeString)"/>
          </xsl:call-template>
        </Attached_document_date>
      </Attached_documents>
    </xsl:for-each>
  </xsl:template>

  <xsl:template name="attached-codes">
    <xsl:for-each select="$d/dec:AuthorisationHolder/dec:CategoryCode">
      <xsl:value-of select="concat(., ' ')"/>
    </xsl:for-each>
    <xsl:if test="$gs/dec:AEOMutualRecognitionParty">MRA </xsl:if>
    <xsl:if test="$gs/dec:Invoice">380 </xsl:if>
  </xsl:template>

  <xsl:template name="supplementary-unit">
    <xsl:param name="quantity" select="/.."/>
    <Supplementary_unit>
      <Suppplementary_unit_code>
        <xsl:call-template name="or-null"><xsl:with-param name="value" select="$quantity/@unitCode"/></xsl:call-template>
      </Suppplementary_unit_code>
      <Suppplementary_unit_name><null/></Suppplementary_unit_name>
      <Suppplementary_unit_quantity><xsl:value-of select="$quantity"/></Suppplementary_unit_quantity>
    </Supplementary_unit>
  </xsl:template>

  <xsl:template name="item">
    <xsl:variable name="commodity" select="dec:Commodity"/>
    <xsl:variable name="hs" select="translate(normalize-space($commodity/dec:Classification[1]/dec:ID), ' .', '')"/>
    <xsl:variable name="alpha">
      <xsl:choose>
        <xsl:when test="$customs-value &gt; 0"><xsl:value-of select="number(dec:CustomsValueAmount) div $customs-value"/></xsl:when>
        <xsl:otherwise><xsl:value-of select="1 div $item-count"/></xsl:otherwise>
      </xsl:choose>
    </xsl:variable>
    <!-- ASYCUDA apportions the declaration's invoice over the items by their share of the value. -->
    <xsl:variable name="item-invoice" select="$invoice-amount * $alpha"/>
    <xsl:variable name="gross" select="$commodity/dec:GoodsMeasure/dec:GrossMassMeasure"/>
    <xsl:variable name="codes"><xsl:call-template name="attached-codes"/></xsl:variable>
    <Item>
      <xsl:call-template name="attached-documents"/>
      <Packages>
        <Number_of_packages><xsl:value-of select="sum(dec:Packaging/dec:QuantityQuantity)"/></Number_of_packages>
        <Marks1_of_packages>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="dec:Packaging[1]/dec:MarksNumbersID"/></xsl:call-template>
        </Marks1_of_packages>
        <Marks2_of_packages><null/></Marks2_of_packages>
        <Kind_of_packages_code><xsl:value-of select="dec:Packaging[1]/dec:TypeCode"/></Kind_of_packages_code>
        <Kind_of_packages_name/>
      </Packages>
      <IncoTerms>
        <Code><xsl:value-of select="$gs/dec:TradeTerms/dec:ConditionCode"/></Code>
        <Place><xsl:value-of select="$gs/dec:TradeTerms/dec:LocationName"/></Place>
      </IncoTerms>
      <Tarification>
        <Tarification_data><null/></Tarification_data>
        <HScode>
          <!-- National tariffs are 8 digits: a 6-digit HS subheading is padded, extra digits go to precision 1. -->
          <Commodity_code><xsl:value-of select="substring(concat($hs, '00000000'), 1, 8)"/></Commodity_code>
          <Precision_1><xsl:value-of select="substring($hs, 9)"/></Precision_1>
          <Precision_2><null/></Precision_2>
          <Precision_3><null/></Precision_3>
          <Precision_4><null/></Precision_4>
        </HScode>
        <Preference_code>
          <xsl:call-template name="or-null">
            <xsl:with-param name="value" select="$commodity/dec:DutyTaxFee[dec:DutyRegimeCode][1]/dec:DutyRegimeCode"/>
          </xsl:call-template>
        </Preference_code>
        <Extended_customs_procedure><xsl:value-of select="dec:GovernmentProcedure[1]/dec:CurrentCode"/></Extended_customs_procedure>
        <National_customs_procedure>000</National_customs_procedure>
        <Quota_code><null/></Quota_code>
        <Quota>
          <QuotaCode><null/></QuotaCode>
          <QuotaId><null/></QuotaId>
          <QuotaItem><ItmNbr><null/></ItmNbr></QuotaItem>
        </Quota>
        <xsl:call-template name="supplementary-unit">
          <xsl:with-param name="quantity"
              select="($commodity/dec:GoodsMeasure/dec:TariffQuantity | $commodity/dec:DutyTaxFee/dec:SpecificTaxBaseQuantity)[1]"/>
        </xsl:call-template>
        <xsl:call-template name="supplementary-unit"/>
        <xsl:call-template name="supplementary-unit"/>
        <Item_price><xsl:value-of select="format-number($item-invoice, '0.00')"/></Item_price>
        <Valuation_method_code>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="dec:CustomsValuation/dec:MethodCode"/></xsl:call-template>
        </Valuation_method_code>
        <Value_item/>
        <Attached_doc_item>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$codes"/></xsl:call-template>
        </Attached_doc_item>
        <A.I._code><null/></A.I._code>
      </Tarification>
      <Goods_description>
        <Country_of_origin_code><xsl:value-of select="dec:Origin[1]/dec:CountryCode"/></Country_of_origin_code>
        <Country_of_origin_region><null/></Country_of_origin_region>
        <Description_of_goods><xsl:value-of select="$commodity/dec:Description"/></Description_of_goods>
        <Commercial_Description><xsl:value-of select="$commodity/dec:Description"/></Commercial_Description>
      </Goods_description>
      <Previous_doc>
        <Summary_declaration>
          <xsl:call-template name="or-null">
            <xsl:with-param name="value" select="$gs/dec:Consignment/dec:TransportContractDocument[1]/dec:ID"/>
          </xsl:call-template>
        </Summary_declaration>
        <Summary_declaration_sl><null/></Summary_declaration_sl>
        <Previous_document_reference>
          <xsl:call-template name="or-null"><xsl:with-param name="value" select="$d/dec:ID"/></xsl:call-template>
        </Previous_document_reference>
        <Previous_warehouse_code><null/></Previous_warehouse_code>
      </Previous_doc>
      <Licence_number><null/></Licence_number>
      <Amount_deducted_from_licence/>
      <Quantity_deducted_from_licence/>
      <Free_text_1><null/></Free_text_1>
      <Free_text_2><null/></Free_text_2>
      <Taxation>
        <Item_taxes_amount/>
        <Item_taxes_guaranted_amount/>
        <Item_taxes_mode_of_payment><null/></Item_taxes_mode_of_payment>
        <Counter_of_normal_mode_of_payment/>
        <Displayed_item_taxes_amount/>
      </Taxation>
      <Valuation_item>
        <Weight_itm>
          <Gross_weight_itm><xsl:value-of select="$gross"/></Gross_weight_itm>
          <Net_weight_itm><xsl:value-of select="$commodity/dec:GoodsMeasure/dec:NetNetWeightMeasure"/></Net_weight_itm>
        </Weight_itm>
        <Total_cost_itm>0</Total_cost_itm>
        <Total_CIF_itm>
          <xsl:if test="dec:CustomsValueAmount"><xsl:value-of select="format-number(dec:CustomsValueAmount, '0.00')"/></xsl:if>
        </Total_CIF_itm>
        <Rate_of_adjustement>1</Rate_of_adjustement>
        <Statistical_value>
          <xsl:variable name="statistical" select="(dec:StatisticalValueAmount | dec:CustomsValueAmount)[1]"/>
          <xsl:if test="$statistical"><xsl:value-of select="format-number($statistical, '0.00')"/></xsl:if>
        </Statistical_value>
        <Alpha_coeficient_of_apportionment><xsl:value-of select="format-number($alpha, '0.000000')"/></Alpha_coeficient_of_apportionment>
        <Item_Invoice>
          <Amount_national_currency><xsl:value-of select="format-number($item-invoice * $rate, '0.00')"/></Amount_national_currency>
          <Amount_foreign_currency><xsl:value-of select="format-number($item-invoice, '0.00')"/></Amount_foreign_currency>
          <Currency_code><xsl:value-of select="$invoice-currency"/></Currency_code>
          <Currency_name/>
          <Currency_rate><xsl:value-of select="$rate"/></Currency_rate>
        </Item_Invoice>
        <xsl:call-template name="no-cost">
          <xsl:with-param name="name" select="'item_external_freight'"/><xsl:with-param name="code-null" select="false()"/>
        </xsl:call-template>
        <xsl:call-template name="no-cost">
          <xsl:with-param name="name" select="'item_internal_freight'"/><xsl:with-param name="code-null" select="false()"/>
        </xsl:call-template>
        <xsl:call-template name="no-cost">
          <xsl:with-param name="name" select="'item_insurance'"/><xsl:with-param name="code-null" select="false()"/>
        </xsl:call-template>
        <xsl:call-template name="no-cost">
          <xsl:with-param name="name" select="'item_other_cost'"/><xsl:with-param name="currency-name" select="''"/>
        </xsl:call-template>
        <xsl:call-template name="no-cost"><xsl:with-param name="name" select="'item_deduction'"/></xsl:call-template>
        <Market_valuer>
          <Rate/>
          <Currency_code><null/></Currency_code>
          <Currency_amount/>
          <Basis_description><null/></Basis_description>
          <Basis_amount/>
        </Market_valuer>
      </Valuation_item>
    </Item>
  </xsl:template>
</xsl:stylesheet>
