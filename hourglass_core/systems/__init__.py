"""The training systems, one module each, all on one engine."""
from .fedavg import FedAvg
from .hourglass import Hourglass
from .splitfed_v1 import SplitFedV1
from .splitfed_v2 import SplitFedV2

SYSTEM_CLASSES = {cls.name: cls for cls in (Hourglass, SplitFedV1, SplitFedV2, FedAvg)}


def make_system(ctx):
    return SYSTEM_CLASSES[ctx.config.system](ctx)
