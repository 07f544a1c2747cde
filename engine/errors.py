"""The engine's exception tree; adapters translate these at their boundary."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem found in a request, located by a FHIRPath-like expression."""

    code: str
    diagnostics: str
    expression: str | None = None
    severity: str = "error"


class TesseraError(Exception):
    """Root of every error the engine raises on purpose."""

    issue_code = "processing"
    status = 500  # the FHIR/HTTP status this error answers with (Bundle entries use it too)

    def __init__(self, message: str, *, issues: list[Issue] | None = None):
        super().__init__(message)
        self.message = message
        self.issues = issues or [Issue(self.issue_code, message)]


class InvalidRequest(TesseraError):
    """The request itself is malformed (bad JSON, bad parameter, wrong shape)."""

    issue_code = "invalid"
    status = 400


class InvalidResource(TesseraError):
    """A resource failed validation; `issues` name each failing element."""

    issue_code = "invalid"
    status = 422


class UnknownResourceType(InvalidRequest):
    """The resource type is not part of FHIR R4."""

    issue_code = "not-supported"


class UnsupportedSearchParameter(InvalidRequest):
    """A search parameter is unknown or used with an unsupported modifier (strict handling)."""

    issue_code = "not-supported"


class ResourceNotFound(TesseraError):
    """No resource (or version) with that id exists."""

    issue_code = "not-found"
    status = 404


class ResourceGone(TesseraError):
    """The resource existed but its current version is a deletion."""

    issue_code = "deleted"
    status = 410


class VersionConflict(TesseraError):
    """An `If-Match` or concurrent write did not match the current version."""

    issue_code = "conflict"
    status = 409


class PreconditionFailed(TesseraError):
    """A conditional interaction matched more than one resource, or a precondition failed."""

    issue_code = "duplicate"
    status = 412


class Unauthenticated(TesseraError):
    """No valid credentials; the message never says why in a way that helps an attacker."""

    issue_code = "login"
    status = 401


class Forbidden(TesseraError):
    """Valid credentials but no scope for this interaction; names the missing scope."""

    issue_code = "forbidden"
    status = 403


class MethodNotAllowed(TesseraError):
    """The interaction is not allowed on this resource type (e.g. changing an AuditEvent)."""

    issue_code = "not-supported"
    status = 405


class ReferenceNotResolved(InvalidResource):
    """A reference inside a transaction or conditional reference points at nothing."""

    issue_code = "not-found"
    subject: object = None  # the pending write whose reference failed, when known


class InvalidSearchRequest(TesseraError):
    """A relevance-search parameter is missing, malformed or out of range; the issue names it."""

    issue_code = "invalid"
    status = 422


class SearchUnavailable(TesseraError):
    """The search index cannot be reached (writes are unaffected; the index catches up later)."""

    issue_code = "transient"
    status = 503


class BundleEntryError(TesseraError):
    """A transaction entry failed; carries the entry index and the underlying error."""

    def __init__(self, index: int, cause: TesseraError):
        self.index = index
        self.cause = cause
        self.issue_code = cause.issue_code
        self.status = cause.status
        prefix = f"Bundle.entry[{index}]"
        issues = [
            Issue(i.code, f"{prefix}: {i.diagnostics}", _entry_path(prefix, i.expression), i.severity)
            for i in cause.issues
        ]
        super().__init__(f"{prefix}: {cause.message}", issues=issues)


def _entry_path(prefix: str, expression: str | None) -> str:
    if not expression:
        return f"{prefix}.resource"
    head, _, rest = expression.partition(".")
    return f"{prefix}.resource" + (f".{rest}" if rest else "")
