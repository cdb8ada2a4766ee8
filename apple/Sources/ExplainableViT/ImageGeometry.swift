import Foundation

/// Where a photo's pixels land in the model input and back. The model sees the photo resized to its
/// input size with no crop and no letterbox (`ModelMetadata.imageFit` "stretch", as
/// `runtime.images.resize_batch`), so the mapping is a scale per axis. Coordinates are continuous,
/// origin top-left, pixel `(i, j)` covering `[i, i+1) x [j, j+1)`.
public struct ImageGeometry: Equatable, Sendable {
    public let photoSize: CGSize
    public let inputSize: CGSize
    /// Heatmap grid (rows, columns) over the model input.
    public let gridRows: Int
    public let gridColumns: Int

    public init(photoWidth: Int, photoHeight: Int, metadata: ModelMetadata) {
        self.init(photoSize: CGSize(width: photoWidth, height: photoHeight),
                  inputSize: CGSize(width: metadata.inputSize.width, height: metadata.inputSize.height),
                  gridRows: metadata.grid.rows, gridColumns: metadata.grid.columns)
    }

    public init(photoSize: CGSize, inputSize: CGSize, gridRows: Int, gridColumns: Int) {
        self.photoSize = photoSize
        self.inputSize = inputSize
        self.gridRows = gridRows
        self.gridColumns = gridColumns
    }

    private var sx: CGFloat { inputSize.width / photoSize.width }
    private var sy: CGFloat { inputSize.height / photoSize.height }

    /// A photo point in model-input coordinates.
    public func inputPoint(fromPhoto p: CGPoint) -> CGPoint { CGPoint(x: p.x * sx, y: p.y * sy) }

    /// A model-input point in photo coordinates.
    public func photoPoint(fromInput p: CGPoint) -> CGPoint { CGPoint(x: p.x / sx, y: p.y / sy) }

    /// The heatmap cell (row, column) under a photo point, or nil outside the photo.
    public func cell(atPhoto p: CGPoint) -> (row: Int, column: Int)? {
        guard p.x >= 0, p.y >= 0, p.x < photoSize.width, p.y < photoSize.height else { return nil }
        let q = inputPoint(fromPhoto: p)
        let row = Int((q.y / inputSize.height * CGFloat(gridRows)).rounded(.down))
        let column = Int((q.x / inputSize.width * CGFloat(gridColumns)).rounded(.down))
        return (min(row, gridRows - 1), min(column, gridColumns - 1))
    }

    /// The photo rectangle a heatmap cell (one patch of the model input) covers.
    public func photoRect(row: Int, column: Int) -> CGRect {
        let w = photoSize.width / CGFloat(gridColumns), h = photoSize.height / CGFloat(gridRows)
        return CGRect(x: CGFloat(column) * w, y: CGFloat(row) * h, width: w, height: h)
    }
}
