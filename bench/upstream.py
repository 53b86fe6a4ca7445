"""A city simulator served alone (no fault proxy), as the benchmark's upstream.

python -m bench.upstream --port 9301 [--division 430100]
"""

from __future__ import annotations

import argparse

import uvicorn

from app.simulators import create_city_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--division", default="430100")
    args = parser.parse_args()
    uvicorn.run(
        create_city_app(args.division, provider_states=False),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
