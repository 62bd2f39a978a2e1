// AudioFeatures
