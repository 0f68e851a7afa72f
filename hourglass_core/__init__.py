"""Hourglass kit: split federated learning with shared server models (EuroSys 2025).

    from hourglass_core import ExperimentConfig, run, compare
    result = run(ExperimentConfig(num_clients=10, num_rounds=3))
"""
from .config import ExperimentConfig
from .errors import ConfigError, DataError
from .experiment import Comparison, DivergenceError, RunResult, compare, run

__all__ = ["ExperimentConfig", "run", "compare", "Comparison", "RunResult", "ConfigError",
           "DataError", "DivergenceError"]
