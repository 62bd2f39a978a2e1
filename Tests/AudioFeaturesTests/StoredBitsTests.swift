import AudioFeatures
import Foundation
import Testing
import TestSupport

/// Stored features must not change unless the extractor version does: the per-frame values of
/// these fixtures are pinned to the bits extractor 1.2.1 has always stored (taken from its staged
/// documents), so a change in any DSP loop's arithmetic or summation order fails here.
@Suite("stored feature bits")
struct StoredBitsTests {
    @Test("per-frame MFCC, centroid and ZCR keep their stored bits",
          arguments: [("chimes_48k.ogg", 0x3442_a5c7_9107_4150 as UInt64),
                      ("loop_compus_160k.mp3", 0x69fc_72d5_1625_376f),
                      ("silence.ogg", 0xa973_ca43_f5e3_680d),
                      ("tabla_ke2_44ms.flac", 0x0303_d0a5_4cf8_dcfa),
                      ("corrupt/all_silence_22050.wav", 0xefc8_f136_3f25_adb9),
                      ("corrupt/tone_1khz_96k.wav", 0x4ae5_89fa_6b61_89c3)])
    func framesKeepTheirBits(clip: String, expected: UInt64) throws {
        let features = try FeatureExtractor().extract(fileAt: Fixtures.url("audio/" + clip), keepFrames: true)
        let frames = try #require(features.frames)
        let fingerprint = Self.fingerprint(frames)
        #expect(fingerprint == expected,
                "\(clip): fingerprint 0x\(String(fingerprint, radix: 16)), stored 0x\(String(expected, radix: 16))")
    }

    /// FNV-1a over the bit patterns, one word per value: MFCC (coefficient-major), then centroid,
    /// then ZCR.
    static func fingerprint(_ frames: FrameFeatures) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ word: UInt64) { hash = (hash ^ word) &* 0x0000_0100_0000_01b3 }
        for row in frames.mfcc {
            for value in row { mix(UInt64(value.bitPattern)) }
        }
        for value in frames.spectralCentroid { mix(value.bitPattern) }
        for value in frames.zcr { mix(value.bitPattern) }
        return hash
    }
}
