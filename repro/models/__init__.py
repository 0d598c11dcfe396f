"""Networks: DCGAN (Radford et al. 2015), 2D MLPs, the DDPM U-Net (Ho et al. 2020; Dhariwal & Nichol 2021)."""
