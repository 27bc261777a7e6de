import ArgumentParser
import Network

// Big activation arrays are reused from the heap rather than mmap-ed afresh per layer.
MemoryPolicy.reuseFreedBlocks()
AutosamDist.main()
