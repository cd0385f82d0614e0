import os

# One BLAS thread per query: the daemon runs many small queries at once on few cores, and 2-thread
# OpenBLAS per query oversubscribed them (semantic p50 at 5 concurrent clients: 578 ms, against
# 7 ms for one client). Set before numpy loads; an explicit setting in the environment wins.
# The embedding model runs on ONNX Runtime, which ignores these: its query session has one thread
# and its indexing session one per core (cidx/embed/onnx_minilm.py, ADR 0017).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys  # noqa: E402

from cidx.daemon.server import main  # noqa: E402

sys.exit(main())
