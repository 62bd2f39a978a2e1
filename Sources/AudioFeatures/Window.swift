import Foundation

/// The periodic ("DFT-even") Hann window, `scipy.signal.get_window("hann", n, fftbins=True)`:
/// w[i] = 0.5 − 0.5·cos(2πi/n), computed in double and rounded once to float32.
public func periodicHannWindow(length: Int) -> [Float] {
    (0..<length).map { i in
        Float(0.5 - 0.5 * cos(2.0 * Double.pi * Double(i) / Double(length)))
    }
}
