"""The networks shipped in results/trained/networks load, and reach the test accuracy their records claim.

Needs the CIFAR-10 test images ($RESNET_LESSONS_DATA, as in CI): a 20-layer forward pass over the 10,000
test images takes about 15 s on a CPU.
"""

import pytest

from resnet_lessons.data import load_cifar10
from resnet_lessons.metrics import score
from resnet_lessons.trained import available_trained, trained

SHIPPED = available_trained()


def test_the_course_ships_a_trained_resnet20():
    assert "resnet20" in SHIPPED, "results/trained/networks/resnet20.json is missing"


@pytest.mark.parametrize("name", [n for n in SHIPPED if n in ("resnet20", "plain20")])
def test_a_shipped_network_reaches_the_test_accuracy_of_its_record(name):
    model, record = trained(name)
    data = load_cifar10(progress=False)
    if data.data_label != record.data:
        pytest.fail(f"{name} was trained on {record.data}, but this data is {data.data_label}: point "
                    "$RESNET_LESSONS_DATA at the same copy to check its record.")
    result = score(model, data, mean=record.mean, std=record.std)
    # The record's accuracy was measured in fp32 before the weights were stored in half precision.
    assert result.accuracy == pytest.approx(record.test_acc, abs=0.003)
    assert result.accuracy > 0.5  # a trained network, not one at chance
