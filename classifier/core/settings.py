"""The one dataclass that holds a training run's settings; it is saved beside the model."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

OPTIMIZERS = ("adam", "sgd", "rmsprop")
MAX_BUDGET_SECONDS = 24 * 3600
AUGMENTATIONS = (None, "flip", "shift", "flip_shift", "digits", "garments")  # classifier/training/augment.py


@dataclass
class TrainSettings:
    """Settings of one training run. None means "the model recipe's own default"."""

    epochs: int | None = None            # None: the model's default (5 for the tutorials' MLPs)
    batch_size: int | None = None        # None: the model's default (the tutorials use 32)
    optimizer: str | None = None         # adam / sgd / rmsprop; None: the recipe's
    learning_rate: float | None = None   # None: the recipe's
    validation_split: float = 0.1        # share of train held out, when the dataset has no own split
    lr_schedule: str = "cosine"          # "cosine": decay to 0 over the run; "constant": the tutorials'
    seed: int = 0
    steps_per_execution: int = 16        # batches per compiled step; the curve updates this often
    seconds: float | None = None         # a time budget: train this long, the learning rate
                                         # sized to reach 0 there (epochs are then not used)
    warmup: float | None = None          # share of the run warming the rate up; None: the model's
    max_seconds: float | None = None     # stop training after this long (keeps the weights)
    augment: str | None = None           # "flip": each image and its mirror; "shift", "flip_shift":
                                         # random moves (and mirrors) each epoch (augment.py)
    tensorboard_dir: str | None = None   # write TensorBoard logs here
    pretrained: bool = True              # MobileNetV2: ImageNet weights (needs them cached/online)
    # the lab (classifier/training/lab.py): what makes a model overfit, and what holds it back
    data_share: float = 1.0              # train on this share of the training images (from 0.01)
    label_noise: float = 0.0             # this share of the training labels made wrong
    dropout: float | None = None         # every Dropout layer's rate (one added if none); None: the recipe's
    weight_decay: float = 0.0            # the optimizer's decoupled weight decay (0: none)

    def __post_init__(self) -> None:
        if self.epochs is not None and not 1 <= self.epochs <= 500:
            raise ValueError(f"epochs must be between 1 and 500, got {self.epochs}")
        if self.batch_size is not None and not 1 <= self.batch_size <= 4096:
            raise ValueError(f"batch_size must be between 1 and 4096, got {self.batch_size}")
        if self.optimizer is not None and self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.learning_rate is not None and not 0 < self.learning_rate <= 10:
            raise ValueError(f"learning_rate must be in (0, 10], got {self.learning_rate}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if not 0 <= self.validation_split < 1:
            raise ValueError(f"validation_split must be in [0, 1), got {self.validation_split}")
        if self.seconds is not None and not 1 <= self.seconds <= MAX_BUDGET_SECONDS:
            raise ValueError(f"a time budget must be between 1 and {MAX_BUDGET_SECONDS:,} seconds, "
                             f"got {self.seconds}")
        if self.warmup is not None and not 0 <= self.warmup < 1:
            raise ValueError(f"warmup must be a share in [0, 1), got {self.warmup}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {', '.join(map(str, AUGMENTATIONS))}, "
                             f"got {self.augment!r}")
        if not 0 < self.data_share <= 1:
            raise ValueError(f"data_share must be in (0, 1], got {self.data_share}")
        if not 0 <= self.label_noise < 1:
            raise ValueError(f"label_noise must be in [0, 1), got {self.label_noise}")
        if self.dropout is not None and not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.weight_decay <= 1:
            raise ValueError(f"weight_decay must be in [0, 1], got {self.weight_decay}")
        if self.steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be at least 1, got {self.steps_per_execution}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainSettings":
        """Build from a dict, ignoring keys this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
