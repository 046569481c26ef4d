"""A client writing one row every 100 ms, as a CRM's users would; only under profile "writer".

Each committed row's number is appended to /log/committed once the server has confirmed the
commit, so a test knows exactly which writes were acknowledged. It ignores SIGTERM (as PID 1
without a handler does), like many real workers: only SIGKILL stops it.
"""

import os
import time
from pathlib import Path

import psycopg2

LOG = Path("/log/committed")


def main() -> None:
    done = LOG.read_text().split() if LOG.exists() else []
    n = max((int(x) for x in done), default=0)
    while True:
        try:
            connection = psycopg2.connect(os.environ["DATABASE_URL"], connect_timeout=3)
            connection.autocommit = True
            while True:
                with connection.cursor() as cursor:
                    cursor.execute("INSERT INTO writes (n) VALUES (%s)", (n + 1,))
                n += 1
                with LOG.open("a") as log:
                    log.write(f"{n}\n")
                time.sleep(0.1)
        except psycopg2.Error as error:
            print(f"writer: {error}".strip(), flush=True)
            time.sleep(0.2)


if __name__ == "__main__":
    main()
