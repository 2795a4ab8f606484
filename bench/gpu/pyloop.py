"""Pure-Python 512x512 float matmul (triple loop), the anchor of the product description's
"35,000x" headline. Prints one JSON line with the time. Usage: python3 pyloop.py [N]"""

import json
import random
import sys
import time

n = int(sys.argv[1]) if len(sys.argv) > 1 else 512
a = [[random.random() for _ in range(n)] for _ in range(n)]
b = [[random.random() for _ in range(n)] for _ in range(n)]
t0 = time.perf_counter()
c = [[0.0] * n for _ in range(n)]
for i in range(n):
    ai, ci = a[i], c[i]
    for k in range(n):
        aik, bk = ai[k], b[k]
        for j in range(n):
            ci[j] += aik * bk[j]
dt = time.perf_counter() - t0
print(json.dumps({"case": f"matmul{n}-pure-python", "seconds": dt, "mflops": 2 * n**3 / dt / 1e6}))
