import mase_ir
import pytest
import torch


class TinyMLP(torch.nn.Module):
    """32 -> 64 -> relu -> 4: small enough that every check runs in milliseconds."""

    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(32, 64)
        self.fc2 = torch.nn.Linear(64, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))


@pytest.fixture
def mlp():
    torch.manual_seed(0)
    model = TinyMLP().eval()
    x = torch.randn(16, 32)
    return model, x, mase_ir.trace(model, {"x": x})


@pytest.fixture
def task(mlp):
    """Batches of (inputs, labels) whose labels the FP32 model predicts by construction."""
    model, x, g = mlp
    torch.manual_seed(1)
    out = []
    for _ in range(3):
        xb = torch.randn(16, 32)
        with torch.no_grad():
            out.append(({"x": xb}, model(xb).argmax(-1)))
    return out
