"""The miniature cloud behind ``os-tracing demo`` and the sample paste pipeline."""
