"""French company identifiers checked with python-stdnum: SIREN (9 digits) and SIRET (14 digits)."""

from __future__ import annotations

from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength, ValidationError
from stdnum.fr import siren, siret


def _check(module, value, label: str, digits: int) -> str:
    """The compact digits of ``value``; ValueError saying what is wrong and what is expected."""
    if not isinstance(value, str):
        raise ValueError(f"a {label} is text of {digits} digits, got {type(value).__name__}")
    number = siren.compact(value)  # drops spaces, dots, dashes
    if not number:
        raise ValueError(f"a {label} has {digits} digits, got none")
    try:
        return module.validate(number)
    except InvalidLength:
        raise ValueError(f"a {label} has {digits} digits, got {len(number)} in {value.strip()!r}") from None
    except InvalidFormat:
        raise ValueError(f"a {label} has digits only (spaces allowed), got {value.strip()!r}") from None
    except (InvalidChecksum, InvalidComponent):
        raise ValueError(f"{value.strip()!r} is not a valid {label}: its check digit is wrong (a typo?)") from None
    except ValidationError as e:  # pragma: no cover - any other stdnum verdict
        raise ValueError(f"{value.strip()!r} is not a valid {label}: {e}") from None


def valid_siren(value: str) -> str:
    """The SIREN's 9 digits, normalised; ValueError with a clear message on a bad length or checksum."""
    return _check(siren, value, "SIREN", 9)


def valid_siret(value: str) -> str:
    """The SIRET's 14 digits, normalised; ValueError with a clear message on a bad length or checksum."""
    return _check(siret, value, "SIRET", 14)
