"""The metrics options: defaults that follow the spans, and bad values named once."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from tracing_middleware.config import ConfigError, load_settings
from tracing_middleware.metrics.setup import metrics_url


@pytest.fixture
def conf(tmp_path):
    def make(text: str = "") -> cfg.ConfigOpts:
        path = tmp_path / "service.conf"
        path.write_text("[tracing]\n" + text)
        opts = cfg.ConfigOpts()
        opts([], project="nova", default_config_files=[str(path)])
        return opts
    return make


def test_metrics_follow_the_spans_into_the_embedded_store(conf):
    settings = load_settings(conf("exporters = sqlite:////tmp/x.db, otlp+http://c:4318\n"))
    assert [e.url for e in settings.metrics_exporters] == ["sqlite:////tmp/x.db"]
    assert (settings.metrics, settings.metrics_interval, settings.metrics_temporality,
            settings.metrics_max_series, settings.metrics_histogram_buckets) == (
        True, 60, "cumulative", 1000, ())
    assert load_settings(conf("exporters = otlp+http://c:4318\n")).metrics_exporters == ()


def test_metrics_options_are_read(conf):
    settings = load_settings(conf(
        "exporters = otlp+http://c:4318\nmetrics_exporters = otlp+http://c:4318, "
        "otlp+grpc://c, otlp+http://c:4318/custom\nmetrics_interval = 10\n"
        "metrics_temporality = delta\nmetrics_max_series = 50\n"
        "metrics_histogram_buckets = 0.5, 5, 50\n"))
    assert [metrics_url(e) if e.scheme != "otlp+grpc" else e.url
            for e in settings.metrics_exporters] == [
        "http://c:4318/v1/metrics", "c:4317", "http://c:4318/custom"]
    assert (settings.metrics_interval, settings.metrics_temporality,
            settings.metrics_max_series, settings.metrics_histogram_buckets) == (
        10, "delta", 50, (500_000, 5_000_000, 50_000_000))


@pytest.mark.parametrize("line, named", [
    ("metrics_exporters = console://", "metrics_exporters = 'console://'"),
    ("metrics_exporters = ftp://x", "metrics_exporters = 'ftp://x'"),
    ("metrics_histogram_buckets = 5, 1", "must be ascending"),
    ("metrics_histogram_buckets = 5, -1", "metrics_histogram_buckets = '-1'"),
    ("metrics_histogram_buckets = fast", "metrics_histogram_buckets = 'fast'"),
    ("metrics_interval = 0", "metrics_interval"),
    ("metrics_temporality = sometimes", "metrics_temporality"),
    ("metrics_max_series = 0", "metrics_max_series"),
])
def test_bad_values_are_named(conf, line, named):
    with pytest.raises((ConfigError, ValueError)) as err:
        load_settings(conf(line + "\n"))
    assert named in str(err.value)
