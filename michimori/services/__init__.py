"""Local Mosquitto, InfluxDB 1.x and VictoriaMetrics on 127.0.0.1, with generated configs.

The test harness, the benchmarks, the demo and ``michimori services`` all start them here.
"""

from ._configs import InfluxSettings, MosquittoSettings
from ._process import ServiceError, ServiceProcess, free_port
from ._services import Endpoint, InfluxDB, Mosquitto, VictoriaMetrics

__all__ = [
    "Endpoint",
    "InfluxDB",
    "InfluxSettings",
    "Mosquitto",
    "MosquittoSettings",
    "ServiceError",
    "ServiceProcess",
    "VictoriaMetrics",
    "free_port",
]
