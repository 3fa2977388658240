"""The models: recipes (builders), MobileNetV2 (pretrained), the registry, saving and loading."""
