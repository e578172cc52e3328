"""An unmodified osprofiler service: WsgiMiddleware + @profiler.trace, spans exported by
osprofiler's own OTLP driver to argv[1]. Prints its port; exits when stdin closes."""

import sys
import threading
import wsgiref.simple_server

from oslo_config import cfg
from osprofiler import notifier, opts, profiler, web

KEY = "shared-key"
opts.set_defaults(cfg.CONF)
cfg.CONF([], project="glance")
notifier.set(notifier.create(f"otlp://{sys.argv[1]}", project="glance", service="api",
                             conf=cfg.CONF))
web.enable(KEY)


@profiler.trace("load_image")
def load_image():
    return b"image"


def app(environ, start_response):
    body = load_image()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


class Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        return None


server = wsgiref.simple_server.make_server("127.0.0.1", 0,
                                           web.WsgiMiddleware(app, hmac_keys=KEY,
                                                              enabled=True),
                                           handler_class=Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(server.server_address[1], flush=True)
sys.stdin.read()
server.shutdown()
