"""E-licenses (电子证照, GB/T 36901-36905): the license types the registry knows."""
