"""The one module that pins the FHIR release Tessera speaks (R4 4.0.1) and the models that validate it.

`fhir.resources` ships no R4 models; R4B (4.3.0) is the closest release. R4B models accept
nearly all R4 content. The R4 resource types that R4B renamed or removed are validated by
structural checks only (see `STRUCTURAL_ONLY_TYPES` and README "FHIR release").
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

FHIR_VERSION = "4.0.1"
MIME_TYPE = "application/fhir+json"
MODEL_PACKAGE = "fhir.resources.R4B"

# Every concrete resource type of FHIR R4 4.0.1 (http://hl7.org/fhir/R4/resourcelist.html).
R4_RESOURCE_TYPES: frozenset[str] = frozenset("""
Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse AuditEvent
Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement CarePlan CareTeam
CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem
Communication CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent
Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue Device
DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport DocumentManifest
DocumentReference EffectEvidenceSynthesis Encounter Endpoint EnrollmentRequest EnrollmentResponse
EpisodeOfCare EventDefinition Evidence EvidenceVariable ExampleScenario ExplanationOfBenefit
FamilyMemberHistory Flag Goal GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy
Immunization ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan
Invoice Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
ObservationDefinition OperationDefinition OperationOutcome Organization OrganizationAffiliation
Parameters Patient PaymentNotice PaymentReconciliation Person PlanDefinition Practitioner
PractitionerRole Procedure Provenance Questionnaire QuestionnaireResponse RelatedPerson RequestGroup
ResearchDefinition ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment
RiskEvidenceSynthesis Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition
StructureDefinition StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer
SubstanceProtein SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification
SupplyDelivery SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet
VerificationResult VisionPrescription
""".split())

# R4 types with no R4B model: R4B replaced them (MedicinalProduct* -> *Definition, Ingredient, ...)
# or dropped them (the Substance* definitional resources).
STRUCTURAL_ONLY_TYPES: frozenset[str] = frozenset("""
EffectEvidenceSynthesis MedicinalProduct MedicinalProductAuthorization MedicinalProductContraindication
MedicinalProductIndication MedicinalProductIngredient MedicinalProductInteraction
MedicinalProductManufactured MedicinalProductPackaged MedicinalProductPharmaceutical
MedicinalProductUndesirableEffect RiskEvidenceSynthesis SubstanceNucleicAcid SubstancePolymer
SubstanceProtein SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification
""".split())


def is_resource_type(name: Any) -> bool:
    """True when `name` is a concrete FHIR R4 resource type."""
    return isinstance(name, str) and name in R4_RESOURCE_TYPES


@lru_cache(maxsize=None)
def model_class(resource_type: str) -> type | None:
    """The pydantic model that validates `resource_type`, or None for structural-only types."""
    if resource_type in STRUCTURAL_ONLY_TYPES or resource_type not in R4_RESOURCE_TYPES:
        return None
    package = importlib.import_module(MODEL_PACKAGE)
    return package.get_fhir_model_class(resource_type)
