from datetime import UTC, datetime


def iso_millis(moment: datetime) -> str:
    """PROTOCOL.md's time format: UTC, exactly three fractional digits, and Z."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
