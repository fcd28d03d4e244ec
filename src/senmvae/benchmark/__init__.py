"""The benchmark: every noise model judged by realism metrics and by the denoiser it trains."""

from senmvae.benchmark.config import BenchmarkConfig, BudgetShares
from senmvae.benchmark.run import MODEL_ORDER, markdown_table, run_benchmark

__all__ = ["MODEL_ORDER", "BenchmarkConfig", "BudgetShares", "markdown_table", "run_benchmark"]
