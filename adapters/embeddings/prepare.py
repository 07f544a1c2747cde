"""Convert an embedding model for the ONNX backends ahead of time: `python -m adapters.embeddings.prepare`."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from adapters.embeddings.models import PACKAGED_MODEL, resolve_model_dir
from adapters.embeddings.onnx_export import converted_model, default_cache_dir


def main(argv: list[str] | None = None) -> int:
    """Convert (or find already converted) the model; print where it is and how int8 agrees with float32."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=PACKAGED_MODEL, help="model name or folder (default: %(default)s)")
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="where converted models are kept (default: inside the virtual environment)")
    args = parser.parse_args(argv)
    if args.cache_dir is None:
        print("no cache folder: pass --cache-dir (outside a virtual environment there is no default)",
              file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    converted = converted_model(resolve_model_dir(args.model), args.cache_dir)
    print(f"{args.model}: {converted.folder} ({converted.dimensions} dimensions, int8 cosine to float32 "
          f"mean {converted.int8_mean_cosine:.4f}, {time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
