import pytest
import torch

from tests.train.helpers import write_pairs

# The training tests start their own subprocesses; one thread each keeps a busy 2-core machine usable.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def pairs_dir(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs"))
