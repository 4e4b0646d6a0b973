"""CIFAR-100's real label names and fine→coarse mapping (Krizhevsky, 2009)."""

from __future__ import annotations

import numpy as np

# Superclass → its five classes, in the official coarse-label order.
SUPERCLASSES: dict[str, tuple[str, ...]] = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}

COARSE_LABEL_NAMES: tuple[str, ...] = tuple(SUPERCLASSES)
# The official fine labels are the 100 class names in alphabetical order.
FINE_LABEL_NAMES: tuple[str, ...] = tuple(
    sorted(name for members in SUPERCLASSES.values() for name in members)
)
_COARSE_OF_NAME = {
    name: coarse for coarse, members in enumerate(SUPERCLASSES.values()) for name in members
}
FINE_TO_COARSE: np.ndarray = np.array(
    [_COARSE_OF_NAME[name] for name in FINE_LABEL_NAMES], dtype=np.int64
)

NUM_FINE_CLASSES = len(FINE_LABEL_NAMES)
NUM_COARSE_CLASSES = len(COARSE_LABEL_NAMES)
