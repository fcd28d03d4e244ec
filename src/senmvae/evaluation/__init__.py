"""The benchmark: every noise model judged by realism metrics and by the denoiser it trains."""

from senmvae.evaluation.config import BenchmarkConfig, BudgetShares
from senmvae.evaluation.run import BenchmarkResult, markdown_table, plan_runs, run_benchmark

__all__ = ["BenchmarkConfig", "BenchmarkResult", "BudgetShares", "markdown_table", "plan_runs", "run_benchmark"]
