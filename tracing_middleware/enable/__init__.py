"""``os-tracing enable``/``disable``: edit an operator's own files, exactly and reversibly."""
