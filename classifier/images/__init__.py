"""A user's image: reading it safely, cleaning it up as the training images were made, webcam frames."""
