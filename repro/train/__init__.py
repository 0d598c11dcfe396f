"""Trainers (GAN and diffusion), checkpoints, collapse detection."""
