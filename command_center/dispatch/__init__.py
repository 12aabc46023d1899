"""Pure-Python dispatch optimizer for mass-casualty transport (see /work/shared/DISPATCH.md).

No Django here: the hub builds an `mci-dispatch/1` instance from live state and calls
`solve`; the same functions back the command line, the tests and the benchmark.
"""

from .baseline import baseline_plan
from .bounds import upper_bound
from .evaluate import PLAN_FORMAT, Evaluation, evaluate_plan
from .generate import generate_instance
from .instance import INSTANCE_FORMAT, Instance, InstanceError, parse_instance
from .solve import solve

__all__ = [
    "INSTANCE_FORMAT",
    "PLAN_FORMAT",
    "Evaluation",
    "Instance",
    "InstanceError",
    "baseline_plan",
    "evaluate_plan",
    "generate_instance",
    "parse_instance",
    "solve",
    "upper_bound",
]
