"""Code systems and HL7 v2 tables used by the maps.

HL7 v2-to-FHIR IG: vocabulary maps "Table HL7nnnn to <FHIR value set>", e.g. "Table HL70085 to Observation
Status" (http://hl7.org/fhir/uv/v2mappings/ConceptMap-table-hl70085-to-observation-status.html) and "Table HL70003
to Encounter Status"; coding system names (CWE.3) follow HL7 table 0396.
"""
from __future__ import annotations

import re
from urllib.parse import quote

V2 = "http://terminology.hl7.org/CodeSystem/v2-"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
V3_MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
V3_NULL = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
V3_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
UCUM = "http://unitsofmeasure.org"
CVX = "http://hl7.org/fhir/sid/cvx"
LOCAL_SYSTEM_PREFIX = "urn:tessera:hl7v2:codesystem:"

# HL7 table 0396 coding system names -> FHIR code system URIs
CODING_SYSTEMS = {
    "LN": "http://loinc.org", "LOINC": "http://loinc.org",
    "SCT": "http://snomed.info/sct", "SNOMED": "http://snomed.info/sct", "SNOMEDCT": "http://snomed.info/sct",
    "SNOMED-CT": "http://snomed.info/sct", "SNM": "http://snomed.info/sct",
    "I9": "http://hl7.org/fhir/sid/icd-9-cm", "I9C": "http://hl7.org/fhir/sid/icd-9-cm",
    "I9CDX": "http://hl7.org/fhir/sid/icd-9-cm", "I9M": "http://hl7.org/fhir/sid/icd-9-cm",
    "ICD9": "http://hl7.org/fhir/sid/icd-9-cm",
    "I10": "http://hl7.org/fhir/sid/icd-10", "ICD10": "http://hl7.org/fhir/sid/icd-10",
    "I10C": "http://hl7.org/fhir/sid/icd-10-cm", "ICD10CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "ICD-10": "http://hl7.org/fhir/sid/icd-10", "ICD-10-CM": "http://hl7.org/fhir/sid/icd-10-cm",
    "I10P": "http://www.cms.gov/Medicare/Coding/ICD10",
    "CVX": CVX, "MVX": "http://terminology.hl7.org/CodeSystem/MVX",
    "NDC": "http://hl7.org/fhir/sid/ndc", "RXNORM": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "RXN": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "UCUM": UCUM, "ANS+": UCUM,
    "C4": "http://www.ama-assn.org/go/cpt", "C5": "http://www.ama-assn.org/go/cpt",
    "CPT": "http://www.ama-assn.org/go/cpt", "CPT4": "http://www.ama-assn.org/go/cpt",
    "HCPCS": "urn:oid:2.16.840.1.113883.6.285", "HCPC": "urn:oid:2.16.840.1.113883.6.285",
    "NCIT": "http://ncithesaurus-stage.nci.nih.gov", "NCI": "http://ncithesaurus-stage.nci.nih.gov",
    "CDCREC": "urn:oid:2.16.840.1.113883.6.238", "CDCPHINVS": "urn:oid:2.16.840.1.114222.4.5.274",
    "PHINQUESTION": "urn:oid:2.16.840.1.114222.4.5.232",
    "ISO3166_1": "urn:iso:std:iso:3166", "ISO3166-1": "urn:iso:std:iso:3166",
    "ISO639": "urn:ietf:bcp:47", "ISO+": "urn:iso:std:iso:11073:10101",
    "DCM": "http://dicom.nema.org/resources/ontology/DCM", "NUCC": "http://nucc.org/provider-taxonomy",
    "NPI": "http://hl7.org/fhir/sid/us-npi", "UPC": "urn:oid:2.16.840.1.113883.6.301",
    "ICDO": "http://terminology.hl7.org/CodeSystem/icd-o", "ICD-O": "http://terminology.hl7.org/CodeSystem/icd-o",
    "HL7nnnn": None,
}
_V2_TABLE = re.compile(r"HL7(\d{4})", re.IGNORECASE)
_URI = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:)\S+$")


def coding_system(name: str, default_table: str | None = None) -> str | None:
    """The FHIR system URI for an HL7 coding system name (CWE.3); tables HL7nnnn become v2-nnnn."""
    name = name.strip()
    if not name:
        return f"{V2}{default_table}" if default_table else None
    upper = name.upper()
    if upper in CODING_SYSTEMS:
        return CODING_SYSTEMS[upper]
    match = _V2_TABLE.fullmatch(name)
    if match:
        return f"{V2}{match.group(1)}"
    if upper.startswith(("HTTP://", "HTTPS://", "URN:")) and _URI.match(name):
        return name
    return LOCAL_SYSTEM_PREFIX + quote(name, safe="-._~")


# HL7 table 0001 administrative sex -> AdministrativeGender
GENDER = {"M": "male", "F": "female", "O": "other", "A": "other", "U": "unknown", "N": "unknown",
          "MALE": "male", "FEMALE": "female", "OTHER": "other", "UNKNOWN": "unknown"}

# HL7 table 0004 patient class -> v3 ActCode (Encounter.class)
PATIENT_CLASS = {"E": ("EMER", "emergency"), "I": ("IMP", "inpatient encounter"),
                 "O": ("AMB", "ambulatory"), "P": ("PRENC", "pre-admission"), "R": ("AMB", "ambulatory"),
                 "B": ("IMP", "inpatient encounter"), "C": ("AMB", "ambulatory")}

# HL7 table 0002 marital status -> v3 MaritalStatus
MARITAL = {"A": "L", "B": "U", "C": "C", "D": "D", "E": "L", "G": "T", "I": "I", "M": "M", "N": "A",
           "P": "T", "R": "T", "S": "S", "W": "W", "U": "UNK", "T": "UNK", "O": "OTH",
           "MARRIED": "M", "SINGLE": "S", "DIVORCED": "D", "WIDOWED": "W", "SEPARATED": "L"}
MARITAL_DISPLAY = {"A": "Annulled", "C": "Common Law", "D": "Divorced", "I": "Interlocutory",
                   "L": "Legally Separated", "M": "Married", "P": "Polygamous", "S": "Never Married",
                   "T": "Domestic partner", "U": "unmarried", "W": "Widowed", "UNK": "unknown", "OTH": "other"}

# HL7 table 0078 -> v3 ObservationInterpretation (codes shared by both tables)
INTERPRETATION = {"<", ">", "A", "AA", "AC", "B", "CAR", "D", "DET", "E", "EX", "EXP", "H", "HH", "HU", "HX",
                  "I", "IE", "IND", "L", "LL", "LU", "LX", "N", "NCL", "ND", "NEG", "NR", "NS", "POS", "QCF",
                  "R", "RR", "S", "SDD", "SYN-R", "SYN-S", "TOX", "U", "UNE", "VS", "W", "WR"}
INTERPRETATION_ALIASES = {"MS": "I", "VS": "VS", "NORMAL": "N", "ABNORMAL": "A", "HIGH": "H", "LOW": "L"}

# HL7 table 0085 -> ObservationStatus (IG map, plus the codes the IG leaves unmapped)
OBSERVATION_STATUS = {"A": "amended", "B": "amended", "C": "corrected", "D": "entered-in-error",
                      "F": "final", "I": "registered", "N": "cancelled", "O": "registered",
                      "P": "preliminary", "R": "preliminary", "S": "preliminary", "U": "final",
                      "W": "entered-in-error", "X": "cancelled"}

# HL7 table 0123 -> DiagnosticReportStatus
REPORT_STATUS = {"O": "registered", "I": "registered", "S": "registered", "A": "partial", "R": "partial",
                 "P": "preliminary", "C": "corrected", "M": "amended", "F": "final", "X": "cancelled"}

# HL7 table 0038 (order status) and 0119 (order control) -> RequestStatus
ORDER_STATUS = {"A": "active", "CA": "revoked", "CM": "completed", "DC": "revoked", "ER": "entered-in-error",
                "HD": "on-hold", "IP": "active", "RP": "revoked", "SC": "active"}
ORDER_CONTROL = {"NW": "active", "OK": "active", "SN": "active", "XO": "active", "XX": "active",
                 "RL": "active", "RE": "active", "SC": "active", "SS": "active", "CA": "revoked",
                 "OC": "revoked", "CR": "revoked", "DC": "revoked", "OD": "revoked", "DR": "revoked",
                 "HD": "on-hold", "OH": "on-hold", "HR": "on-hold", "CM": "completed", "OE": "completed"}

# HL7 table 0273 document availability status (TXA-19) -> DocumentReference.status
DOC_AVAILABILITY = {"AV": "current", "OB": "superseded", "CA": "entered-in-error", "UN": "current"}

# HL7 table 0271 document completion status -> DocumentReference.docStatus
DOC_STATUS = {"AU": "final", "LA": "final", "DI": "preliminary", "DO": "preliminary", "IN": "preliminary",
              "IP": "preliminary", "PA": "preliminary"}

# HL7 table 0200 name type -> HumanName.use
NAME_USE = {"L": "official", "R": "official", "C": "official", "D": "usual", "A": "usual", "T": "usual",
            "M": "maiden", "N": "nickname", "S": "anonymous", "TEMP": "temp", "NB": "temp", "BAD": "old",
            "NOUSE": "old", "F": "old"}

# HL7 table 0190 address type -> Address.use / Address.type
ADDRESS_USE = {"H": "home", "P": "home", "B": "work", "O": "work", "C": "temp", "BA": "old", "BI": "billing",
               "V": "temp"}
ADDRESS_TYPE = {"M": "postal", "SH": "physical"}

# HL7 tables 0201 (use) and 0202 (equipment) -> ContactPoint.use / .system
TELECOM_USE = {"PRN": "home", "ORN": "home", "VHN": "home", "WPN": "work", "ASN": "work", "EMR": "home",
               "BPN": "work", "PRS": "mobile", "NET": None}
TELECOM_SYSTEM = {"PH": "phone", "CP": "phone", "SAT": "phone", "FX": "fax", "BP": "pager",
                  "INTERNET": "email", "X.400": "email", "MD": "other", "TDD": "other", "TTY": "other"}

# HL7 table 0127 allergen type -> AllergyIntolerance.category; 0128 severity -> criticality
ALLERGY_CATEGORY = {"DA": "medication", "FA": "food", "EA": "environment", "AA": "environment",
                    "PA": "environment", "LA": "environment"}
ALLERGY_CRITICALITY = {"SV": "high", "MO": "low", "MI": "low", "U": "unable-to-assess"}

# HL7 table 0322 completion status -> Immunization.status
IMMUNIZATION_STATUS = {"CP": "completed", "PA": "completed", "RE": "not-done", "NA": "not-done"}

# HL7 table 0203 identifier type codes (Identifier.type with system v2-0203)
IDENTIFIER_TYPES = {
    "AM", "AN", "ANON", "BA", "BC", "BR", "BRN", "CC", "CY", "DDS", "DEA", "DFN", "DI", "DL", "DN", "DO",
    "DPM", "DR", "DS", "EI", "EN", "FI", "GI", "GL", "GN", "HC", "JHN", "IND", "LI", "LN", "LR", "MA", "MB",
    "MC", "MCD", "MCN", "MCR", "MCT", "MD", "MI", "MR", "MRT", "MS", "NBSNR", "NCT", "NE", "NH", "NI",
    "NII", "NIIP", "NNxxx", "NP", "NPI", "OD", "PA", "PC", "PCN", "PE", "PEN", "PGN", "PHC", "PI", "PLAC",
    "FILL", "PN", "PNT", "PPIN", "PPN", "PRC", "PRN", "PT", "QA", "RI", "RN", "RPH", "RR", "RRI", "RRP",
    "SAMN", "SB", "SID", "SL", "SN", "SNBSN", "SNO", "SP", "SR", "SRX", "SS", "STN", "TAX", "TN", "TPR",
    "U", "UDI", "UPIN", "USID", "VN", "VP", "VS", "WC", "WCN", "WP", "XX"}
