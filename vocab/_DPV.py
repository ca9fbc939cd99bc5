"""Data Privacy Vocabulary terms as a closed namespace, mirrored by ``dpv.ttl``.

Consent, purpose and legal basis are the product's promise to individuals; recording them in
DPV keeps the consent records and the provenance trail readable by other privacy tools.
"""

from rdflib.namespace import DefinedNamespace, Namespace
from rdflib.term import URIRef


class DPV(DefinedNamespace):
    """Data Privacy Vocabulary (DPV) 2, the consent, purpose and legal-basis subset.

    Source: https://w3id.org/dpv (terms and comments: ``vocab/dpv.ttl``). Every term was checked
    against DPV 2; terms that could not be confirmed were left out.
    """

    _fail = True
    _NS = Namespace("https://w3id.org/dpv#")

    # http://www.w3.org/2000/01/rdf-schema#Class: data, parties, processing, duration
    Data: URIRef  # Any data, personal or not.
    DataController: URIRef  # Who decides why personal data is processed.
    DataSubject: URIRef  # Whom personal data is about.
    DerivedData: URIRef  # Data produced from other data.
    Duration: URIRef  # How long something lasts.
    PersonalData: URIRef  # Data relating to an individual.
    Processing: URIRef  # An operation on data.
    Recipient: URIRef  # Who receives data.
    Status: URIRef  # The state something is in.
    TemporalDuration: URIRef  # A fixed length of time.

    # Processing operations
    Analyse: URIRef  # Examine data closely.
    Derive: URIRef  # Produce new data from existing data.
    Match: URIRef  # Compare or combine data from different sources.

    # Purposes
    AcademicResearch: URIRef  # Research in an academic setting.
    CommercialResearch: URIRef  # Research by or for a company.
    CustomerManagement: URIRef  # Managing customer relationships.
    FraudPreventionAndDetection: URIRef  # Finding and stopping fraud.
    IdentityVerification: URIRef  # Checking someone is who they claim.
    LegalCompliance: URIRef  # Meeting a legal obligation.
    Marketing: URIRef  # Promoting or selling products or services.
    NonCommercialResearch: URIRef  # Research without commercial aims.
    PersonalisedAdvertising: URIRef  # Adverts chosen for a particular person.
    Purpose: URIRef  # Why data is used.
    ResearchAndDevelopment: URIRef  # Developing new methods, products or services.
    ServiceOptimisation: URIRef  # Making a service work better.
    ServicePersonalisation: URIRef  # Tailoring a service to a person.
    ServiceProvision: URIRef  # Providing a service or product.
    ServiceUsageAnalytics: URIRef  # Analysing how a service is used.

    # Legal bases
    Consent: URIRef  # The data subject's agreement.
    Contract: URIRef  # Needed for a contract.
    ExplicitlyExpressedConsent: URIRef  # Consent by an action meaning only that.
    InformedConsent: URIRef  # Consent given with enough information.
    LegalBasis: URIRef  # The legal ground for processing.
    LegalObligation: URIRef  # A duty in law.
    LegitimateInterest: URIRef  # A party's weighed legitimate interests.
    PublicInterest: URIRef  # Needed for the public interest.
    VitalInterest: URIRef  # Needed to protect someone's life.

    # Consent status (dpv:ConsentStatus and its values)
    ConsentExpired: URIRef  # Consent ran out; not valid for processing.
    ConsentGiven: URIRef  # Consent given; valid for processing.
    ConsentRefused: URIRef  # Consent declined; not valid for processing.
    ConsentRequested: URIRef  # Asked, no decision yet; not valid for processing.
    ConsentRevoked: URIRef  # Ended by someone else; not valid for processing.
    ConsentStatus: URIRef  # The state of a consent.
    ConsentUnknown: URIRef  # State unknown; not valid for processing.
    ConsentWithdrawn: URIRef  # Taken back by the data subject; not valid for processing.
    RenewedConsentGiven: URIRef  # Consent confirmed again; valid for processing.

    # http://www.w3.org/1999/02/22-rdf-syntax-ns#Property
    hasConsentStatus: URIRef  # The current state of a consent.
    hasData: URIRef  # The data something involves.
    hasDataController: URIRef  # The responsible data controller.
    hasDataSubject: URIRef  # The data subject concerned.
    hasDuration: URIRef  # How long something lasts.
    hasIndicationMethod: URIRef  # How a decision was expressed.
    hasLegalBasis: URIRef  # The legal basis relied on.
    hasPersonalData: URIRef  # The personal data something involves.
    hasProcessing: URIRef  # The operations performed.
    hasPurpose: URIRef  # The purpose served.
    hasRecipient: URIRef  # Who receives the data.
    isIndicatedAtTime: URIRef  # When a decision was expressed.
    isIndicatedBy: URIRef  # Who expressed a decision.
