"""HL7 v2 to FHIR R4: parse messages (python-hl7), map them to transaction Bundles, build ACKs.

Public interface: parse_message, map_message, build_ack, split_file, resend_key and their value types/exceptions.
"""
from adapters.hl7v2.ack import build_ack
from adapters.hl7v2.errors import Hl7ParseError, MappingError, MappingIssue, UnsupportedMessage
from adapters.hl7v2.mapping import map_message
from adapters.hl7v2.model import MappingResult, Merge, MessageHeader, ParsedMessage
from adapters.hl7v2.parse import parse_message, readable_header, resend_key, split_file

__all__ = ["Hl7ParseError", "UnsupportedMessage", "MappingIssue", "MappingError", "MessageHeader",
           "ParsedMessage", "Merge", "MappingResult", "parse_message", "map_message", "build_ack",
           "split_file", "readable_header", "resend_key"]
