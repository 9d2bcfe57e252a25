#!/usr/bin/env python3
"""The visibility lab's backend: what every pod of the lab "runs".

kwok gives pods addresses in the lab's pod range, which lies on the lab
network namespace's loopback interface; this server listens on all
addresses of that namespace, on each port given, so a request that Traefik
sends to a pod's endpoint really arrives here. It answers 200 with what it
saw, one `key=value` per line, so a test can tell which Host the request
carried and which pod address it reached:

    host=hello.cloud.example.test
    addr=10.244.0.7:80
    path=/
    from=127.0.0.1
    client=127.0.0.1

Usage: backend.py PORT [PORT...]
"""
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    server_version = "wildrun-lab-backend"

    def do_GET(self):
        local = self.connection.getsockname()
        body = (
            f"host={self.headers.get('Host', '')}\n"
            f"addr={local[0]}:{local[1]}\n"
            f"path={self.path}\n"
            f"from={self.client_address[0]}\n"
            # The client as Traefik saw it (what its ipAllowList judged).
            f"client={self.headers.get('X-Real-Ip', '')}\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))


def main():
    ports = [int(p) for p in sys.argv[1:]]
    if not ports:
        sys.exit("usage: backend.py PORT [PORT...]")
    servers = [ThreadingHTTPServer(("0.0.0.0", p), Handler) for p in ports]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("serving on ports", *ports, file=sys.stderr, flush=True)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
