import Foundation

/// Qwen2.5-VL's window partition of the ViT sequence (`get_window_index` of transformers 4.57.6).
///
/// Merged cells (2×2 patches, 4 consecutive rows) of each frame are grouped into windows of
/// `window_size / merge / patch` × that many cells, windows in raster order, cells in raster order inside each
/// window (ragged windows at the right and bottom edges keep only the cells that exist). Windowed blocks attend
/// within a window; full-attention blocks within a frame (the permutation stays inside each frame).
public struct VisionWindows: Sendable, Equatable {
    /// Merged-cell order after the permutation: `cellOrder[k]` is the original cell index of position k. [N/4]
    public let cellOrder: [Int]
    /// Window boundaries in patch rows of the permuted sequence, starting at 0 (empty windows dropped).
    public let windowBoundaries: [Int]
    /// Frame boundaries in patch rows (each temporal slice of each item), starting at 0.
    public let frameBoundaries: [Int]

    /// Windows for `grids` with `cells` merged cells per window side (window_size // merge // patch).
    public init(grids: [VisionGrid], mergeSize: Int, cellsPerWindow: Int) {
        precondition(cellsPerWindow > 0, "VisionWindows: the window must hold at least one merged cell")
        let unit = mergeSize * mergeSize
        var order: [Int] = [], windows = [0], frames = [0]
        var base = 0
        for grid in grids {
            let lh = grid.h / mergeSize, lw = grid.w / mergeSize
            // HF pads by `size - l % size` (a whole extra window when l divides evenly); empty windows are dropped
            // by unique_consecutive, so counting only non-empty windows is the same.
            let nh = (lh + cellsPerWindow - 1) / cellsPerWindow, nw = (lw + cellsPerWindow - 1) / cellsPerWindow
            for t in 0..<grid.t {
                for wy in 0..<nh {
                    for wx in 0..<nw {
                        var count = 0
                        for cy in (wy * cellsPerWindow)..<min(lh, (wy + 1) * cellsPerWindow) {
                            for cx in (wx * cellsPerWindow)..<min(lw, (wx + 1) * cellsPerWindow) {
                                order.append(base + (t * lh + cy) * lw + cx)
                                count += 1
                            }
                        }
                        if count > 0 { windows.append(windows.last! + count * unit) }
                    }
                }
                frames.append(frames.last! + lh * lw * unit)
            }
            base += grid.t * lh * lw
        }
        cellOrder = order
        windowBoundaries = windows
        frameBoundaries = frames
    }

    /// Reorders rows of `x: [N, width]` in groups of `unit` rows by ``cellOrder`` (`inverse` restores the order;
    /// with `unit` 1 it reorders merged rows `[N/4, width]`).
    public func permute(_ x: [Float], width: Int, unit: Int, inverse: Bool = false) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        let block = unit * width
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for (k, cell) in cellOrder.enumerated() {
                    let (from, to) = inverse ? (k, cell) : (cell, k)
                    (dst.baseAddress! + to * block).update(from: src.baseAddress! + from * block, count: block)
                }
            }
        }
        return out
    }
}
