"""An SMTP server for the interop checks: aiosmtpd, saving each message as an .eml file.

Usage: smtp_sink.py MAILDIR PORTFILE. Listens on a free loopback port, writes
the port to PORTFILE, and runs until killed.
"""

import os
import socket
import sys
import time

from aiosmtpd.controller import Controller


class Saver:
    def __init__(self, maildir):
        self.maildir = maildir

    async def handle_DATA(self, server, session, envelope):
        name = f"{time.time_ns()}.eml"
        with open(os.path.join(self.maildir, name + ".part"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(os.path.join(self.maildir, name + ".part"), os.path.join(self.maildir, name))
        return "250 Message accepted for delivery"


def main():
    maildir, portfile = sys.argv[1], sys.argv[2]
    os.makedirs(maildir, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    controller = Controller(Saver(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    with open(portfile, "w") as f:
        f.write(str(port))
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
