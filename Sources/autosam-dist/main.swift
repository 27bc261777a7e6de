import ArgumentParser

AutosamDist.main()
