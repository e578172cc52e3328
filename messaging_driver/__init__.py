"""The ``traced+`` oslo.messaging driver: trace context through RPC and notifications."""

from messaging_driver.driver import TracedDriver

__all__ = ["TracedDriver"]
