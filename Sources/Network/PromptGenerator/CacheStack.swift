/// The per-layer caches of one forward pass, popped by backward in reverse order. A class,
/// so that popping releases a layer's saved tensors at once instead of when the caller's
/// copy of the whole array goes away.
final class CacheStack<Element> {
    private var items: [Element] = []

    init(capacity: Int) { items.reserveCapacity(capacity) }

    var count: Int { items.count }

    func push(_ e: Element) { items.append(e) }

    func pop() -> Element {
        guard let e = items.popLast() else { preconditionFailure("CacheStack: backward ran past the forward's caches") }
        return e
    }
}
