@testable import AudioFeatures
import Foundation
import Testing

@Suite("feature parameters")
struct FeatureParametersTests {
    @Test("the parameter hash is stable and follows every parameter")
    func hash() throws {
        let defaults = FeatureParameters.librosaDefaults
        // Pinned: a change here means every stored feature document gets recomputed.
        #expect(defaults.paramsHash == "d07f27808ee00083")
        #expect(defaults.paramsHash.count == 16 && defaults.paramsHash.allSatisfy(\.isHexDigit))
        var changed: [FeatureParameters] = []
        for keyPath in [\FeatureParameters.sampleRate, \.nFFT, \.hopLength, \.nMels, \.nMFCC] {
            var p = defaults
            p[keyPath: keyPath] += 2
            changed.append(p)
        }
        #expect(Set(changed.map(\.paramsHash) + [defaults.paramsHash]).count == 6)
        let decoded = try JSONDecoder().decode(FeatureParameters.self, from: JSONEncoder().encode(defaults))
        #expect(decoded == defaults && decoded.paramsHash == defaults.paramsHash)
        #expect(!AudioFeatures.extractorVersion.isEmpty)
    }

    @Test("invalid parameters are rejected before any file is read")
    func validation() {
        for bad in [FeatureParameters(nFFT: 2047), FeatureParameters(hopLength: 0), FeatureParameters(nMels: 0),
                    FeatureParameters(nMels: 10, nMFCC: 20), FeatureParameters(sampleRate: -1)] {
            #expect(throws: FeatureExtractionError.self) { _ = try FeatureExtractor(parameters: bad) }
        }
    }

    @Test("other parameters run end to end (n_fft 1024, hop 256, 64 mels, 13 MFCC)")
    func otherParameters() throws {
        let parameters = FeatureParameters(nFFT: 1024, hopLength: 256, nMels: 64, nMFCC: 13)
        let features = try FeatureExtractor(parameters: parameters)
            .extract(fileAt: GoldenReference.audioURL("explosion_22050_mono.ogg"), keepFrames: true)
        #expect(features.nFrames == 1 + 14_773 / 256)
        #expect(features.mfcc.count == 13 && features.frames?.mfcc.count == 13)
        #expect(features.frames?.mfcc.allSatisfy { $0.allSatisfy(\.isFinite) } == true)
    }
}
