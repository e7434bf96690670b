"""Reading /metrics as Prometheus does, with prometheus_client's own text parser."""

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "a-long-metrics-token-for-tests"
BEARER = f"Bearer {TOKEN}"


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, ((label, value), ...) sorted): value} of every sample in the text."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


def value(found: dict[tuple, float], name: str, **labels: str) -> float:
    """One sample's value; 0 for a series not there yet (a counter not yet counted)."""
    return found.get((name, tuple(sorted(labels.items()))), 0)


def label_values(found: dict[tuple, float], label: str) -> set[str]:
    """Every value that `label` takes among the samples."""
    return {value for (_name, labels) in found for key, value in labels if key == label}
