//! Dormand–Prince 8(5,3): an explicit Runge–Kutta method of order 8 with
//! error control and a continuous extension of order 7.
//!
//! Coefficients, error estimate, step-size controller, stiffness test and
//! dense output follow Hairer, Nørsett & Wanner, *Solving ODEs I* (2nd ed.,
//! II.10) and their code DOP853. Against [`super::Dopri5`] each step costs
//! twice the right-hand-side evaluations (12 per accepted step instead of 6,
//! plus 3 for a step with dense output), but at the tolerances PK work runs
//! at (rtol 1e-6 to 1e-10) it takes three to five times fewer steps, and the
//! per-step bookkeeping (controller, error norm, stiffness test) shrinks
//! with them.
//!
//! The error estimate combines the embedded 5th- and 3rd-order solutions as
//! DOP853 does: with `e5` and `e3` their scaled RMS sums,
//! `err = |h|·e5 / sqrt(n·(e5 + 0.01·e3))`, each state scaled by `atol +
//! rtol·max(|y_i|, |y_new_i|)`. The controller is DOP853's (β = 0): `h_new =
//! h·clamp(0.9·err^(−1/8), 1/3, 6)`, never growing right after a rejection.
//! (A PI term as in DOPRI5, β = 0.04, took 1.01 steps per hour on issue 6's
//! workload instead of 0.90.)
//! The stiffness test is Hairer's, on one accepted step in ten until a
//! step counts as stiff and then on every step: `h·‖k13 − k12‖ /
//! ‖y_new − y12‖ > 5.0` (both stages at `t + h`; DOP853 uses 6.1, see
//! [`STIFF_HLAMBDA`]) on 15 steps, six non-stiff steps in a row resetting
//! the count.
//!
//! Departures from DOP853, each measured on issue 6's workload
//! (docs/performance.md): with dense output, a step is cut or stretched to
//! end on a sample when that costs less than the continuous extension
//! ([`LAND_FRACTION`], [`LAND_STRETCH`]); and after a jump in the state (a
//! dose) the integration restarts with the step the controller settled on
//! after the previous jump.

// The coefficients are written with the digits Hairer publishes, so they
// can be checked against the source; the compiler rounds them.
#![allow(clippy::excessive_precision)]

use super::dopri5::{check_finite, Outcome};
use super::explicit::{trim, Dense, StiffnessTest};
use super::{plan_step, SolverError, SolverOptions, SolverStats};

const C2: f64 = 0.526_001_519_587_677_318_785_587_544_488e-1;
const C3: f64 = 0.789_002_279_381_515_978_178_381_316_732e-1;
const C4: f64 = 0.118_350_341_907_227_396_726_757_197_510;
const C5: f64 = 0.281_649_658_092_772_603_273_242_802_490;
const C6: f64 = 0.333_333_333_333_333_333_333_333_333_333;
const C7: f64 = 0.25;
const C8: f64 = 0.307_692_307_692_307_692_307_692_307_692;
const C9: f64 = 0.651_282_051_282_051_282_051_282_051_282;
const C10: f64 = 0.6;
const C11: f64 = 0.857_142_857_142_857_142_857_142_857_142;
const C14: f64 = 0.1;
const C15: f64 = 0.2;
const C16: f64 = 0.777_777_777_777_777_777_777_777_777_778;

const B1: f64 = 5.429_373_411_656_876_223_805_357_663_63e-2;
const B6: f64 = 4.450_312_892_752_408_881_441_139_505_66;
const B7: f64 = 1.891_517_899_314_500_383_042_815_990_44;
const B8: f64 = -5.801_203_960_010_584_781_467_211_422_7;
const B9: f64 = 3.111_643_669_578_198_944_089_160_623_7e-1;
const B10: f64 = -1.521_609_496_625_160_785_561_788_068_05e-1;
const B11: f64 = 2.013_654_008_040_303_483_747_765_375_01e-1;
const B12: f64 = 4.471_061_572_777_259_051_768_855_690_43e-2;

const BHH1: f64 = 0.244_094_488_188_976_377_952_755_905_512;
const BHH2: f64 = 0.733_846_688_281_611_857_341_361_741_547;
const BHH3: f64 = 0.220_588_235_294_117_647_058_823_529_412e-1;

const ER1: f64 = 0.131_200_449_941_948_807_325_010_299_6e-1;
const ER6: f64 = -0.122_515_644_637_620_444_072_056_975_3e1;
const ER7: f64 = -0.495_758_949_657_250_191_521_407_995_2;
const ER8: f64 = 0.166_437_718_245_498_653_696_153_041_5e1;
const ER9: f64 = -0.350_328_848_749_973_681_688_648_729;
const ER10: f64 = 0.334_179_118_713_017_479_029_731_884_1;
const ER11: f64 = 0.819_232_064_851_157_124_657_074_261_3e-1;
const ER12: f64 = -0.223_553_078_638_862_952_588_442_784_5e-1;

const A21: f64 = 5.260_015_195_876_773_187_855_875_444_88e-2;
const A31: f64 = 1.972_505_698_453_789_945_445_953_291_83e-2;
const A32: f64 = 5.917_517_095_361_369_836_337_859_875_49e-2;
const A41: f64 = 2.958_758_547_680_684_918_168_929_937_75e-2;
const A43: f64 = 8.876_275_643_042_054_754_506_789_813_24e-2;
const A51: f64 = 2.413_651_341_592_666_855_023_697_986_65e-1;
const A53: f64 = -8.845_494_793_282_860_853_448_649_627_17e-1;
const A54: f64 = 9.248_340_032_617_920_031_157_379_665_43e-1;
const A61: f64 = 3.703_703_703_703_703_703_703_703_703_7e-2;
const A64: f64 = 1.708_286_087_294_738_712_796_044_821_73e-1;
const A65: f64 = 1.254_676_875_668_224_250_166_918_141_23e-1;
const A71: f64 = 3.710_937_5e-2;
const A74: f64 = 1.702_522_110_195_440_393_149_780_602_72e-1;
const A75: f64 = 6.021_653_898_045_596_068_502_193_972_83e-2;
const A76: f64 = -1.757_812_5e-2;
const A81: f64 = 3.709_200_011_850_479_271_087_793_198_36e-2;
const A84: f64 = 1.703_839_257_122_399_938_102_140_547_05e-1;
const A85: f64 = 1.072_620_304_463_732_846_518_091_991_68e-1;
const A86: f64 = -1.531_943_774_862_440_175_279_361_582_36e-2;
const A87: f64 = 8.273_789_163_814_022_887_584_737_660_02e-3;
const A91: f64 = 6.241_109_587_160_757_171_144_295_778_12e-1;
const A94: f64 = -3.360_892_629_446_941_294_068_571_098_25;
const A95: f64 = -8.682_193_468_417_260_068_181_898_914_53e-1;
const A96: f64 = 2.759_209_969_944_670_830_494_156_007_97e1;
const A97: f64 = 2.015_406_755_047_789_340_861_867_889_79e1;
const A98: f64 = -4.348_988_418_106_995_884_773_662_551_44e1;
const A101: f64 = 4.776_625_364_382_643_658_904_339_085_27e-1;
const A104: f64 = -2.488_114_619_971_667_641_926_425_864_68;
const A105: f64 = -5.902_908_268_368_429_963_714_464_757_43e-1;
const A106: f64 = 2.123_005_144_818_119_423_472_889_498_97e1;
const A107: f64 = 1.527_923_363_288_242_358_325_969_229_38e1;
const A108: f64 = -3.328_821_096_898_486_291_944_532_655_87e1;
const A109: f64 = -2.033_120_170_850_862_613_582_229_285_93e-2;
const A111: f64 = -9.371_424_300_859_873_257_170_402_165_8e-1;
const A114: f64 = 5.186_372_428_844_063_708_300_238_532_09;
const A115: f64 = 1.091_437_348_996_729_578_185_002_546_54;
const A116: f64 = -8.149_787_010_746_926_125_139_972_673_57;
const A117: f64 = -1.852_006_565_999_695_986_415_661_807_01e1;
const A118: f64 = 2.273_948_709_935_050_428_189_700_567_34e1;
const A119: f64 = 2.493_605_552_679_652_389_870_893_967_62;
const A1110: f64 = -3.046_764_471_898_219_500_382_366_902_2;
const A121: f64 = 2.273_310_147_516_538_207_923_597_684_49;
const A124: f64 = -1.053_449_546_673_725_019_840_666_898_79e1;
const A125: f64 = -2.000_872_058_224_862_499_096_757_184_44;
const A126: f64 = -1.795_893_186_311_879_891_727_659_505_34e1;
const A127: f64 = 2.794_888_452_941_996_005_084_998_088_37e1;
const A128: f64 = -2.858_998_277_135_023_694_740_655_086_74;
const A129: f64 = -8.872_856_933_530_629_544_335_492_892_58;
const A1210: f64 = 1.236_056_717_579_430_306_472_662_015_28e1;
const A1211: f64 = 6.433_927_460_157_635_303_559_704_840_46e-1;

const A141: f64 = 5.616_750_228_304_795_233_929_092_196_81e-2;
const A147: f64 = 2.535_002_102_166_248_110_887_947_653_33e-1;
const A148: f64 = -2.462_390_374_708_024_899_174_414_754_41e-1;
const A149: f64 = -1.241_914_232_638_163_604_690_101_406_26e-1;
const A1410: f64 = 1.532_917_982_787_656_973_120_632_268_5e-1;
const A1411: f64 = 8.201_052_295_634_689_884_916_666_020_57e-3;
const A1412: f64 = 7.567_897_660_545_699_761_386_035_895_84e-3;
const A1413: f64 = -8.298e-3;
const A151: f64 = 3.183_464_816_350_214_050_607_684_732_61e-2;
const A156: f64 = 2.830_090_967_236_677_552_883_229_614_02e-2;
const A157: f64 = 5.354_198_830_743_856_762_237_973_843_72e-2;
const A158: f64 = -5.492_374_857_139_098_846_465_693_403_06e-2;
const A1511: f64 = -1.083_473_286_972_493_228_585_093_169_94e-4;
const A1512: f64 = 3.825_710_908_356_584_129_549_201_923_23e-4;
const A1513: f64 = -3.404_650_086_874_045_608_029_771_144_92e-4;
const A1514: f64 = 1.413_124_436_746_325_002_780_746_183_66e-1;
const A161: f64 = -4.288_963_015_837_919_234_085_735_386_92e-1;
const A166: f64 = -4.697_621_415_361_163_843_144_494_472_06;
const A167: f64 = 7.683_421_196_062_599_041_842_409_538_78;
const A168: f64 = 4.068_989_818_397_110_079_702_135_543_31;
const A169: f64 = 3.567_271_874_552_811_092_706_695_430_21e-1;
const A1613: f64 = -1.399_024_165_159_014_621_294_180_097_34e-3;
const A1614: f64 = 2.947_514_789_152_772_338_955_627_214_9;
const A1615: f64 = -9.150_958_472_179_870_010_818_701_871_38;

/// Dense-output coefficients (DOP853's `D4x`–`D7x`), per stage
/// 1, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16.
const D4: [f64; 12] = [
    -0.842_893_827_610_901_286_513_534_911_42e1,
    0.566_714_953_519_377_769_625_317_835_90,
    -0.306_894_994_594_989_169_127_973_047_27e1,
    0.238_466_765_651_206_982_877_281_496_80e1,
    0.211_703_458_244_502_827_671_551_499_46e1,
    -0.871_391_583_777_972_992_067_899_074_90,
    0.224_043_743_026_078_827_585_417_716_50e1,
    0.631_578_778_769_468_818_155_702_492_90,
    -0.889_903_364_513_333_108_206_981_174_00e-1,
    0.181_485_055_208_547_272_566_564_049_62e2,
    -0.919_463_239_247_835_540_004_519_844_36e1,
    -0.443_603_638_759_489_396_643_105_720_00e1,
];
const D5: [f64; 12] = [
    0.104_275_086_425_791_346_034_131_510_09e2,
    0.242_283_491_775_258_182_884_301_753_19e3,
    0.165_200_451_717_270_281_985_053_948_87e3,
    -0.374_546_754_722_690_202_795_183_121_52e3,
    -0.221_136_668_531_253_060_362_709_385_78e2,
    0.773_343_266_847_226_383_896_038_988_08e1,
    -0.306_740_847_310_893_981_820_612_136_26e2,
    -0.933_213_052_643_022_787_295_672_217_06e1,
    0.156_972_381_217_708_438_861_310_910_75e2,
    -0.311_394_032_195_651_776_772_828_504_11e2,
    -0.935_292_435_884_447_838_657_138_626_64e1,
    0.358_168_414_863_940_837_524_658_985_40e2,
];
const D6: [f64; 12] = [
    0.199_850_532_420_024_338_209_876_536_17e2,
    -0.387_037_308_749_351_765_551_059_017_42e3,
    -0.189_178_138_195_167_568_828_308_383_28e3,
    0.527_808_159_205_423_649_005_610_166_86e3,
    -0.115_739_025_399_596_301_261_418_711_34e2,
    0.688_123_269_469_630_001_696_669_226_61e1,
    -0.100_060_509_669_108_384_031_838_609_80e1,
    0.777_713_779_805_344_320_928_692_657_40,
    -0.277_820_575_235_350_840_659_320_043_39e1,
    -0.601_966_952_312_641_207_582_673_808_46e2,
    0.843_204_055_066_771_610_181_599_037_84e2,
    0.119_922_911_361_827_893_280_351_300_30e2,
];
const D7: [f64; 12] = [
    -0.256_939_334_627_037_490_033_125_861_29e2,
    -0.154_189_748_690_236_433_740_539_936_27e3,
    -0.231_529_379_176_045_495_675_360_391_09e3,
    0.357_639_117_910_614_123_782_853_499_10e3,
    0.934_053_241_836_243_100_039_076_917_04e2,
    -0.374_583_231_364_516_331_568_751_393_51e2,
    0.104_099_649_508_962_300_451_472_461_84e3,
    0.298_402_934_266_605_031_233_443_635_79e2,
    -0.435_334_565_900_111_437_544_321_750_58e2,
    0.963_245_539_591_882_829_483_949_506_00e2,
    -0.391_772_616_756_154_391_652_314_861_72e2,
    -0.149_726_836_257_985_625_814_221_252_76e3,
];

/// Controller (DOP853 defaults): safety factor, and the bounds `0.333 ≤
/// h_new/h ≤ 6`.
const SAFE: f64 = 0.9;
const SHRINK_MAX: f64 = 0.333;
const GROW_MAX: f64 = 6.0;

/// A step that would pass the next sample is cut short to end on it when
/// it keeps at least this fraction of its length: the sample is then the
/// step's own end state, and the three extra stages and the interpolation
/// of the continuous extension (about a third of a step's cost) are saved
/// for a fraction of a step's progress...
const LAND_FRACTION: f64 = 0.7;
/// ... or stretched to end on it when it lies at most this factor beyond
/// the step: the controller aims at an error of `0.9^8 ≈ 0.43` of the
/// tolerance, which a step 10% longer raises to about 0.92, so the step
/// is still accepted and a step's worth of dense output is saved.
const LAND_STRETCH: f64 = 1.1;

/// See [`super::Dopri5`]: spans this short (in ulps of `t`) come from
/// rounding and are crossed with one Euler step.
const TINY_SPAN_ULPS: f64 = 64.0;

/// `h·|λ|` above this counts as a step at the stability boundary. DOP853's
/// stability region reaches about 6.8 on the negative real axis, and its
/// code tests against 6.1; but a step held by stability hovers between 5.2
/// and 6.7 (measured on `y' = −1000 (y − cos t)`), so that runs of six
/// steps under 6.1 keep resetting the count and the test never fires. At
/// 5.0 it fires within the first 30 steps there. Steps limited by accuracy
/// stay below it; once a decaying solution falls under `atol`, steps grow
/// until stability holds them (`h·|λ|` up to 9 on the decay test at rtol
/// 1e-3), which is stiffness in the test's sense, and harmless.
const STIFF_HLAMBDA: f64 = 5.0;

/// Stage buffers: `k[0..12]` the twelve stages of a step, `k[12]` the
/// derivative at the accepted end point (the next step's first stage),
/// `k[13..16]` the three extra stages of the continuous extension.
const STAGES: usize = 16;

/// A reusable DOP853 integrator with the interface of [`super::Dopri5`]:
/// stage buffers and the last step size are kept between calls.
#[derive(Debug, Clone)]
pub struct Dop853 {
    opts: SolverOptions,
    k: [Vec<f64>; STAGES],
    /// The argument of stage 12 (for the stiffness test).
    y12: Vec<f64>,
    ytmp: Vec<f64>,
    ynew: Vec<f64>,
    /// `b·k`, the increment of the accepted solution per unit step.
    bsum: Vec<f64>,
    h_next: Option<f64>,
    /// Where the last integration ended (its state is `ynew`), so that the
    /// next one can tell a continuation from a restart after a jump.
    end: Option<f64>,
    /// The step the controller settled on after the last jump in the state
    /// (a dose): the step to restart with after the next.
    h_restart: Option<f64>,
    stiffness: StiffnessTest,
    stats: SolverStats,
}

impl Dop853 {
    pub fn new(n: usize, opts: SolverOptions) -> Self {
        Dop853 {
            opts,
            k: std::array::from_fn(|_| vec![0.0; n]),
            y12: vec![0.0; n],
            ytmp: vec![0.0; n],
            ynew: vec![0.0; n],
            bsum: vec![0.0; n],
            h_next: None,
            end: None,
            h_restart: None,
            stiffness: StiffnessTest::new(STIFF_HLAMBDA),
            stats: SolverStats::default(),
        }
    }

    /// Forgets the step-size history and the stiffness counts.
    pub fn reset(&mut self) {
        self.h_next = None;
        self.end = None;
        self.h_restart = None;
        self.stiffness.reset();
    }

    /// Counters since construction.
    pub fn stats(&self) -> SolverStats {
        self.stats
    }

    /// Advances `y` from `t0` to exactly `t1` (nothing happens when `t1 ≤
    /// t0`). `f(t, y, dydt)` is the right-hand side.
    pub fn integrate<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<(), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        self.run(f, t0, t1, y, false, None).map(|_| ())
    }

    /// Like [`Dop853::integrate`], with the stiffness test: stops at the end
    /// of the step that made it fire ([`Outcome::Stiff`]).
    pub fn integrate_detect_stiff<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
    ) -> Result<Outcome, SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        self.run(f, t0, t1, y, true, None)
    }

    /// Advances `y` to `t1` and writes the solution at each of `times`
    /// (sorted, within `(t0, t1]`) into `out` (`times.len() × n`) from the
    /// continuous extension of order 7, without shortening steps to land on
    /// them. Returns the outcome and how many samples were written (all when
    /// `t1` is reached); see [`super::Dopri5::integrate_dense`].
    #[allow(clippy::too_many_arguments)]
    pub fn integrate_dense<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
        times: &[f64],
        out: &mut [f64],
        detect_stiff: bool,
    ) -> Result<(Outcome, usize), SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let mut dense = Dense::new(times, out);
        let outcome = self.run(f, t0, t1, y, detect_stiff, Some(&mut dense))?;
        Ok(dense.finish(outcome, y))
    }

    fn run<F>(
        &mut self,
        f: &mut F,
        t0: f64,
        t1: f64,
        y: &mut [f64],
        detect_stiff: bool,
        mut dense: Option<&mut Dense<'_>>,
    ) -> Result<Outcome, SolverError>
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let o = self.opts;
        o.validate()?;
        if t1 <= t0 || t1.is_nan() || t0.is_nan() {
            return Ok(Outcome::Reached);
        }
        let n = y.len();
        if self.ynew.len() != n {
            let stats = self.stats;
            *self = Dop853::new(n, o);
            self.stats = stats;
        }
        let span = t1 - t0;
        f(t0, y, &mut self.k[0]);
        self.stats.rhs_evals += 1;
        check_finite(t0, &self.k[0])?;
        if span <= TINY_SPAN_ULPS * f64::EPSILON * t0.abs().max(t1.abs()) {
            for (yi, ki) in y.iter_mut().zip(&self.k[0]) {
                *yi += span * ki;
            }
            return check_finite(t1, y).map(|()| Outcome::Reached);
        }
        // A restart where the last integration ended, from the state it
        // ended with, continues with the step the controller wanted. After
        // a jump (a dose) that step, grown over a smooth stretch, is often
        // far too long for the transient the jump starts (on issue 6's
        // workload it was rejected twice per dose, a tenth of all the work);
        // the step the controller settled on after the previous jump is the
        // better guess.
        let jump = !(self.end == Some(t0) && y[..] == self.ynew[..]);
        self.end = None;
        let mut h = match self.h_next {
            Some(h) if h > 0.0 => {
                let h = match self.h_restart {
                    Some(r) if jump => h.min(r),
                    _ => h,
                };
                h.min(span)
            }
            _ => self.initial_step(f, t0, y, span),
        };
        // Until the controller's first proposal after a jump that the
        // growth bound (6×) did not hold back: that proposal is the next
        // restart's step. (The proposal after the first step alone would
        // be the bound itself whenever the restart step was too short: on
        // issue 6's workload, starting from the initial step's 4e-4 h, the
        // restart grew by only 6× per dose and cost five steps each.)
        let mut settled = !jump;
        let mut t = t0;
        let mut last_rejected = false;
        let mut steps = 0usize;
        loop {
            let proposed = h;
            let mut last;
            (h, last) = plan_step(&mut steps, o.max_steps, t, h, t1)?;
            let planned = h;
            let mut landing = match dense.as_deref() {
                Some(d) if !last => d.landing(t, h, LAND_FRACTION, LAND_STRETCH),
                _ => None,
            };
            if let Some(s) = landing.as_mut() {
                // A sample at the interval's end makes this the last step
                // (it ends exactly on `t1`).
                last = *s >= t1;
                if last {
                    *s = t1;
                }
                h = *s - t;
            }
            self.stages(f, t, h, y);
            // 1/err: zero or NaN when the error is not finite.
            let inv_err = self.inverse_error_norm(h, y);
            if inv_err.is_nan() || inv_err <= 0.0 {
                self.stats.rejected += 1;
                last_rejected = true;
                h *= 0.1;
                continue;
            }
            // The growth `0.9·err^(−1/8)`, the root by three square roots:
            // exact to rounding, and cheaper than `powf`. The next step's
            // every stage waits for it, so it is formed with one division
            // (in the norm) instead of three.
            let growth = SAFE * inv_err.sqrt().sqrt().sqrt();
            if inv_err >= 1.0 {
                self.stats.accepted += 1;
                let end = landing.unwrap_or(t + h);
                check_finite(end, &self.ynew)?;
                let mut hnew = h * growth.clamp(SHRINK_MAX, GROW_MAX);
                if growth > GROW_MAX && h < planned {
                    // A step cut short to land on a sample: the growth
                    // bound applies to the step the controller planned,
                    // not to the cut one (a sample just past the step's
                    // start would otherwise leave a tiny step to regrow).
                    hnew = hnew.max(planned);
                }
                if !settled && growth <= GROW_MAX {
                    self.h_restart = Some(hnew);
                    settled = true;
                }
                if last_rejected {
                    hnew = hnew.min(h);
                }
                last_rejected = false;
                let [.., k13, _, _, _] = &mut self.k;
                f(end, &self.ynew, k13);
                self.stats.rhs_evals += 1;
                check_finite(end, &self.k[12])?;
                let stiff = detect_stiff && self.stiffness.due() && self.stiffness_test(h);
                if let (Some(d), Some(s)) = (dense.as_deref_mut(), landing) {
                    d.take_endpoint(s, &self.ynew);
                } else if let Some(d) = dense.as_deref_mut() {
                    if d.wants(t + h, last) {
                        self.prepare_dense(f, t, h, y);
                        self.write_dense(d, t, h, y, last);
                    }
                }
                y.copy_from_slice(&self.ynew);
                self.k.swap(0, 12);
                if last {
                    self.h_next = Some(hnew.max(proposed));
                    self.end = Some(t1);
                    return Ok(if stiff {
                        Outcome::Stiff { t: t1 }
                    } else {
                        Outcome::Reached
                    });
                }
                t = end;
                h = hnew;
                if stiff {
                    self.h_next = Some(h);
                    self.end = Some(t);
                    return Ok(Outcome::Stiff { t });
                }
            } else {
                self.stats.rejected += 1;
                last_rejected = true;
                h *= growth.max(SHRINK_MAX);
            }
        }
    }

    /// Stages 2–12, `bsum` and the candidate `ynew` for a step `h` from `t`
    /// (stage 1 is `k[0]`).
    ///
    /// Each stage's argument is `y + h·Σ_older + (h·a_last)·k_last`, the
    /// derivative just returned added last: the older part is formed while
    /// the right-hand side runs, so between two evaluations the chain is one
    /// multiply and one add (7% of issue 6's ODE time against `y + h·(Σ)`).
    fn stages<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64])
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        // Small systems get a copy with a constant length, unrolled.
        match y.len() {
            1 => self.stages_of(f, t, h, y, 1),
            2 => self.stages_of(f, t, h, y, 2),
            3 => self.stages_of(f, t, h, y, 3),
            4 => self.stages_of(f, t, h, y, 4),
            n => self.stages_of(f, t, h, y, n),
        }
    }

    #[inline(always)]
    fn stages_of<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64], n: usize)
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let y = &y[..n];
        let [k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11, k12, ..] = &mut self.k;
        let (k1, k2, k3, k4, k5, k6) = (
            &mut k1[..n],
            &mut k2[..n],
            &mut k3[..n],
            &mut k4[..n],
            &mut k5[..n],
            &mut k6[..n],
        );
        let (k7, k8, k9, k10, k11, k12) = (
            &mut k7[..n],
            &mut k8[..n],
            &mut k9[..n],
            &mut k10[..n],
            &mut k11[..n],
            &mut k12[..n],
        );
        let yt = &mut self.ytmp[..n];
        for i in 0..n {
            yt[i] = y[i] + h * A21 * k1[i];
        }
        f(t + C2 * h, yt, k2);
        let h_last = h * A32;
        for i in 0..n {
            yt[i] = y[i] + h * (A31 * k1[i]) + h_last * k2[i];
        }
        f(t + C3 * h, yt, k3);
        let h_last = h * A43;
        for i in 0..n {
            yt[i] = y[i] + h * (A41 * k1[i]) + h_last * k3[i];
        }
        f(t + C4 * h, yt, k4);
        let h_last = h * A54;
        for i in 0..n {
            yt[i] = y[i] + h * (A51 * k1[i] + A53 * k3[i]) + h_last * k4[i];
        }
        f(t + C5 * h, yt, k5);
        let h_last = h * A65;
        for i in 0..n {
            yt[i] = y[i] + h * (A61 * k1[i] + A64 * k4[i]) + h_last * k5[i];
        }
        f(t + C6 * h, yt, k6);
        let h_last = h * A76;
        for i in 0..n {
            yt[i] = y[i] + h * (A71 * k1[i] + A74 * k4[i] + A75 * k5[i]) + h_last * k6[i];
        }
        f(t + C7 * h, yt, k7);
        let h_last = h * A87;
        for i in 0..n {
            yt[i] =
                y[i] + h * (A81 * k1[i] + A84 * k4[i] + A85 * k5[i] + A86 * k6[i]) + h_last * k7[i];
        }
        f(t + C8 * h, yt, k8);
        let h_last = h * A98;
        for i in 0..n {
            yt[i] = y[i]
                + h * (A91 * k1[i] + A94 * k4[i] + A95 * k5[i] + A96 * k6[i] + A97 * k7[i])
                + h_last * k8[i];
        }
        f(t + C9 * h, yt, k9);
        let h_last = h * A109;
        for i in 0..n {
            yt[i] = y[i]
                + h * (A101 * k1[i]
                    + A104 * k4[i]
                    + A105 * k5[i]
                    + A106 * k6[i]
                    + A107 * k7[i]
                    + A108 * k8[i])
                + h_last * k9[i];
        }
        f(t + C10 * h, yt, k10);
        let h_last = h * A1110;
        for i in 0..n {
            yt[i] = y[i]
                + h * (A111 * k1[i]
                    + A114 * k4[i]
                    + A115 * k5[i]
                    + A116 * k6[i]
                    + A117 * k7[i]
                    + A118 * k8[i]
                    + A119 * k9[i])
                + h_last * k10[i];
        }
        f(t + C11 * h, yt, k11);
        let y12 = &mut self.y12[..n];
        let h_last = h * A1211;
        for i in 0..n {
            y12[i] = y[i]
                + h * (A121 * k1[i]
                    + A124 * k4[i]
                    + A125 * k5[i]
                    + A126 * k6[i]
                    + A127 * k7[i]
                    + A128 * k8[i]
                    + A129 * k9[i]
                    + A1210 * k10[i])
                + h_last * k11[i];
        }
        f(t + h, y12, k12);
        let (bsum, ynew) = (&mut self.bsum[..n], &mut self.ynew[..n]);
        let h_last = h * B12;
        for i in 0..n {
            let older = B1 * k1[i]
                + B6 * k6[i]
                + B7 * k7[i]
                + B8 * k8[i]
                + B9 * k9[i]
                + B10 * k10[i]
                + B11 * k11[i];
            bsum[i] = older + B12 * k12[i];
            ynew[i] = y[i] + h * older + h_last * k12[i];
        }
        self.stats.rhs_evals += 11;
    }

    /// The reciprocal of DOP853's error norm (the 5th-order estimate,
    /// damped by the 3rd-order one, scaled by the mixed tolerance): +∞ for
    /// no error, 0 or NaN for an error that is not finite.
    fn inverse_error_norm(&self, h: f64, y: &[f64]) -> f64 {
        match y.len() {
            0 => f64::INFINITY,
            1 => self.inverse_error_norm_of(h, y, 1),
            2 => self.inverse_error_norm_of(h, y, 2),
            3 => self.inverse_error_norm_of(h, y, 3),
            4 => self.inverse_error_norm_of(h, y, 4),
            n => self.inverse_error_norm_of(h, y, n),
        }
    }

    #[inline(always)]
    fn inverse_error_norm_of(&self, h: f64, y: &[f64], n: usize) -> f64 {
        let y = &y[..n];
        let k = &self.k;
        let (k1, k6, k7, k8, k9, k10, k11, k12) =
            trim!(n; k[0], k[5], k[6], k[7], k[8], k[9], k[10], k[11]);
        let (bsum, ynew) = (&self.bsum[..n], &self.ynew[..n]);
        let (mut e5, mut e3) = (0.0, 0.0);
        for i in 0..n {
            let sk = 1.0 / (self.opts.atol + self.opts.rtol * y[i].abs().max(ynew[i].abs()));
            let err3 = bsum[i] - BHH1 * k1[i] - BHH2 * k9[i] - BHH3 * k12[i];
            let err5 = ER1 * k1[i]
                + ER6 * k6[i]
                + ER7 * k7[i]
                + ER8 * k8[i]
                + ER9 * k9[i]
                + ER10 * k10[i]
                + ER11 * k11[i]
                + ER12 * k12[i];
            e3 += (err3 * sk).powi(2);
            e5 += (err5 * sk).powi(2);
        }
        let mut deno = e5 + 0.01 * e3;
        if deno <= 0.0 {
            deno = 1.0;
        }
        (n as f64 * deno).sqrt() / (h.abs() * e5)
    }

    /// Hairer's stiffness test on the step just accepted (`k[11]` and
    /// `k[12]` are the derivatives at `t + h` from `y12` and `ynew`).
    fn stiffness_test(&mut self, h: f64) -> bool {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..self.ynew.len() {
            num += (self.k[12][i] - self.k[11][i]).powi(2);
            den += (self.ynew[i] - self.y12[i]).powi(2);
        }
        self.stiffness.record(h, num, den)
    }

    /// The three extra stages the continuous extension of the accepted step
    /// from `t` (state `y`) to `t + h` needs (`k[13..16]`).
    fn prepare_dense<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64])
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        match y.len() {
            1 => self.prepare_dense_of(f, t, h, y, 1),
            2 => self.prepare_dense_of(f, t, h, y, 2),
            3 => self.prepare_dense_of(f, t, h, y, 3),
            4 => self.prepare_dense_of(f, t, h, y, 4),
            n => self.prepare_dense_of(f, t, h, y, n),
        }
    }

    #[inline(always)]
    fn prepare_dense_of<F>(&mut self, f: &mut F, t: f64, h: f64, y: &[f64], n: usize)
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let y = &y[..n];
        let [k1, _, _, _, _, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15, k16] = &mut self.k;
        let (k1, k6, k7, k8, k9, k10, k11, k12) = (
            &k1[..n],
            &k6[..n],
            &k7[..n],
            &k8[..n],
            &k9[..n],
            &k10[..n],
            &k11[..n],
            &k12[..n],
        );
        let (k13, k14, k15, k16) = (&k13[..n], &mut k14[..n], &mut k15[..n], &mut k16[..n]);
        let yt = &mut self.ytmp[..n];
        let h_last = h * A1413;
        for i in 0..n {
            yt[i] = y[i]
                + h * (A141 * k1[i]
                    + A147 * k7[i]
                    + A148 * k8[i]
                    + A149 * k9[i]
                    + A1410 * k10[i]
                    + A1411 * k11[i]
                    + A1412 * k12[i])
                + h_last * k13[i];
        }
        f(t + C14 * h, yt, k14);
        let h_last = h * A1514;
        for i in 0..n {
            yt[i] = y[i]
                + h * (A151 * k1[i]
                    + A156 * k6[i]
                    + A157 * k7[i]
                    + A158 * k8[i]
                    + A1511 * k11[i]
                    + A1512 * k12[i]
                    + A1513 * k13[i])
                + h_last * k14[i];
        }
        f(t + C15 * h, yt, k15);
        let h_last = h * A1615;
        for i in 0..n {
            yt[i] = y[i]
                + h * (A161 * k1[i]
                    + A166 * k6[i]
                    + A167 * k7[i]
                    + A168 * k8[i]
                    + A169 * k9[i]
                    + A1613 * k13[i]
                    + A1614 * k14[i])
                + h_last * k15[i];
        }
        f(t + C16 * h, yt, k16);
        self.stats.rhs_evals += 3;
    }

    /// Writes the samples of `d` that fall in the step just accepted, from
    /// `t` (state `y`) to `t + h`; `last` takes every remaining sample (the
    /// step ends the interval).
    ///
    /// DOP853's `CONTD8` evaluates `c1 + θ(c2 + θ'(c3 + θ(c4 + θ'(c5 +
    /// θ(c6 + θ'(c7 + θ·c8))))))`, `θ' = 1 − θ`, with `c1 = y`, `c2 = h·b·k`
    /// (the step's increment), `c3 = h·k1 − c2`, `c4 = c2 − h·k13 − c3` and
    /// `c5..c8 = h·D4..D7·k`. Expanded, that is `y + h·Σ_j w_j(θ)·k_j` with
    /// twelve weights per sample (not per state): a sample costs 13
    /// multiply-adds per state instead of the 48 per state of forming
    /// `c5..c8` every step.
    fn write_dense(&self, d: &mut Dense<'_>, t: f64, h: f64, y: &[f64], last: bool) {
        match y.len() {
            1 => self.write_dense_of(d, t, h, y, last, 1),
            2 => self.write_dense_of(d, t, h, y, last, 2),
            3 => self.write_dense_of(d, t, h, y, last, 3),
            4 => self.write_dense_of(d, t, h, y, last, 4),
            n => self.write_dense_of(d, t, h, y, last, n),
        }
    }

    #[inline(always)]
    fn write_dense_of(&self, d: &mut Dense<'_>, t: f64, h: f64, y: &[f64], last: bool, n: usize) {
        let y = &y[..n];
        let bsum = &self.bsum[..n];
        let k = &self.k;
        let (k1, k6, k7, k8, k9, k10, k11, k12, k13, k14, k15, k16) =
            trim!(n; k[0], k[5], k[6], k[7], k[8], k[9], k[10], k[11], k[12], k[13], k[14], k[15]);
        while let Some((s, out)) = d.next_sample(t + h, last, n) {
            let th = ((s - t) / h).clamp(0.0, 1.0);
            if th == 1.0 {
                // The step's end: its end state itself (the interpolant
                // there, `y + h·bsum`, differs from `ynew` by rounding).
                out[..n].copy_from_slice(&self.ynew[..n]);
                continue;
            }
            let th1 = 1.0 - th;
            // The products multiplying c2..c8 in the nested form.
            let b2 = th;
            let b3 = b2 * th1;
            let b4 = b3 * th;
            let b5 = b4 * th1;
            let b6 = b5 * th;
            let b7 = b6 * th1;
            let b8 = b7 * th;
            let mut w = [0.0; 12];
            for (j, wj) in w.iter_mut().enumerate() {
                *wj = b5 * D4[j] + b6 * D5[j] + b7 * D6[j] + b8 * D7[j];
            }
            // c3 and c4 in terms of c2, k1 and k13.
            w[0] += b3 - b4;
            w[8] -= b4;
            let wb = b2 - b3 + 2.0 * b4;
            let out = &mut out[..n];
            for i in 0..n {
                let acc = wb * bsum[i]
                    + w[0] * k1[i]
                    + w[1] * k6[i]
                    + w[2] * k7[i]
                    + w[3] * k8[i]
                    + w[4] * k9[i]
                    + w[5] * k10[i]
                    + w[6] * k11[i]
                    + w[7] * k12[i]
                    + w[8] * k13[i]
                    + w[9] * k14[i]
                    + w[10] * k15[i]
                    + w[11] * k16[i];
                out[i] = y[i] + h * acc;
            }
        }
    }

    /// Hairer's starting step for order 8; expects `k[0] = f(t, y)`.
    fn initial_step<F>(&mut self, f: &mut F, t: f64, y: &[f64], hmax: f64) -> f64
    where
        F: FnMut(f64, &[f64], &mut [f64]),
    {
        let (k0, rest) = self.k.split_at_mut(1);
        self.stats.rhs_evals += 1;
        super::hairer_initial_step(
            f,
            t,
            y,
            &k0[0],
            &mut self.ytmp,
            &mut rest[0],
            &self.opts,
            8,
            hmax,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decay(_t: f64, y: &[f64], d: &mut [f64]) {
        d[0] = -0.5 * y[0];
    }

    /// Issue 6's depot: `y' = −y` (ka = 1 1/h).
    fn depot(_t: f64, y: &[f64], d: &mut [f64]) {
        d[0] = -y[0];
    }

    /// Issue 6's tolerances (rtol 1e-6, atol 1e-9).
    fn workload_tolerances() -> SolverOptions {
        SolverOptions {
            rtol: 1e-6,
            atol: 1e-9,
            ..SolverOptions::default()
        }
    }

    /// A rotation: from `(1, 0)`, `y = (cos t, sin t)`.
    fn rotation(_t: f64, y: &[f64], d: &mut [f64]) {
        d[0] = -y[1];
        d[1] = y[0];
    }

    #[test]
    fn exponential_decay_matches_closed_form_at_each_tolerance() {
        for rtol in [1e-4, 1e-6, 1e-8, 1e-10] {
            let opts = SolverOptions {
                rtol,
                atol: rtol * 1e-3,
                ..SolverOptions::default()
            };
            let mut s = Dop853::new(1, opts);
            let mut y = [10.0];
            s.integrate(&mut decay, 0.0, 7.0, &mut y)
                .expect("integrates");
            let exact = 10.0 * (-3.5f64).exp();
            let rel = ((y[0] - exact) / exact).abs();
            assert!(rel < 10.0 * rtol, "rtol {rtol}: {} vs {exact}", y[0]);
        }
    }

    #[test]
    fn order_eight_takes_long_steps() {
        // A period of the rotation at rtol 1e-8: DOP853 needs a few dozen
        // steps where an order-5 method needs a few hundred.
        let opts = SolverOptions {
            rtol: 1e-8,
            atol: 1e-10,
            ..SolverOptions::default()
        };
        let mut s = Dop853::new(2, opts);
        let mut y = [1.0, 0.0];
        let tau = 2.0 * std::f64::consts::PI;
        s.integrate(&mut rotation, 0.0, tau, &mut y)
            .expect("integrates");
        assert!((y[0] - 1.0).abs() < 1e-7 && y[1].abs() < 1e-7, "{y:?}");
        let mut d = super::super::Dopri5::new(2, opts);
        let mut y5 = [1.0, 0.0];
        d.integrate(&mut rotation, 0.0, tau, &mut y5)
            .expect("integrates");
        assert!(
            3 * s.stats().accepted < d.stats().accepted,
            "DOP853 {:?}, Dopri5 {:?}",
            s.stats(),
            d.stats()
        );
    }

    #[test]
    fn dense_output_is_order_seven_and_keeps_the_steps() {
        let opts = SolverOptions {
            rtol: 1e-8,
            atol: 1e-12,
            ..SolverOptions::default()
        };
        let times: Vec<f64> = (1..=48).map(|i| f64::from(i) * 0.25).collect();
        let mut out = vec![0.0; 2 * times.len()];
        let mut dense = Dop853::new(2, opts);
        let mut y = [1.0, 0.0];
        let (outcome, written) = dense
            .integrate_dense(&mut rotation, 0.0, 12.0, &mut y, &times, &mut out, false)
            .expect("integrates");
        assert_eq!((outcome, written), (Outcome::Reached, 48));
        let mut plain = Dop853::new(2, opts);
        let mut y2 = [1.0, 0.0];
        plain
            .integrate(&mut rotation, 0.0, 12.0, &mut y2)
            .expect("integrates");
        // Every step here spans several samples, so none is cut short to
        // end on one (`LAND_FRACTION`).
        assert_eq!(y, y2, "dense output must not change the steps");
        assert_eq!(dense.stats().accepted, plain.stats().accepted);
        for (t, v) in times.iter().zip(out.chunks(2)) {
            let err = (v[0] - t.cos()).abs().max((v[1] - t.sin()).abs());
            assert!(err < 1e-7, "t = {t}: {v:?}");
        }
        assert_eq!(&out[94..], &y);
    }

    /// Depot and central compartments, ka = 1/h, k = 0.1/h.
    fn oral(_t: f64, y: &[f64], d: &mut [f64]) {
        d[0] = -y[0];
        d[1] = y[0] - 0.1 * y[1];
    }

    #[test]
    fn a_step_just_past_a_sample_ends_on_it() {
        // Issue 6's depot: steps of about 1.1 h at rtol 1e-6, samples every
        // hour. Most steps are cut to end on a sample (no extra stages: 12
        // evaluations per step instead of 15), and those samples are the
        // steps' own end states.
        let opts = workload_tolerances();
        let times: Vec<f64> = (1..=24).map(f64::from).collect();
        let mut out = vec![0.0; times.len()];
        let mut solver = Dop853::new(1, opts);
        let mut y = [100.0];
        let (outcome, written) = solver
            .integrate_dense(&mut depot, 0.0, 24.0, &mut y, &times, &mut out, false)
            .expect("integrates");
        assert_eq!((outcome, written), (Outcome::Reached, 24));
        let st = solver.stats();
        let per_step = st.rhs_evals as f64 / st.accepted as f64;
        assert!(per_step < 13.0, "{st:?}: {per_step} evaluations per step");
        for (t, v) in times.iter().zip(&out) {
            let exact = 100.0 * (-t).exp();
            // The mixed tolerance: relative while the amount is above
            // atol/rtol = 1e-3, absolute below.
            assert!(
                (v - exact).abs() <= 1e-5 * exact + 1e-8,
                "t = {t}: {v} vs {exact}"
            );
        }
    }

    #[test]
    fn a_sample_at_the_end_of_the_interval_is_landed_on_safely() {
        // The interval's end is also its last sample: a step stretched to
        // end on it must be the last one (not followed by an empty step).
        let opts = workload_tolerances();
        for k in 0..200 {
            let t1 = 3.0 + f64::from(k) * 0.01;
            let mut times: Vec<f64> = (1..=3).map(f64::from).filter(|&s| s < t1).collect();
            times.push(t1);
            let mut out = vec![0.0; times.len()];
            let mut solver = Dop853::new(1, opts);
            let mut y = [100.0];
            let (outcome, written) = solver
                .integrate_dense(&mut depot, 0.0, t1, &mut y, &times, &mut out, false)
                .unwrap_or_else(|e| panic!("t1 = {t1}: {e}"));
            assert_eq!((outcome, written), (Outcome::Reached, times.len()));
            let exact = 100.0 * (-t1).exp();
            assert!((y[0] - exact).abs() <= 1e-5 * exact, "t1 = {t1}");
            assert_eq!(out[times.len() - 1], y[0]);
        }
    }

    #[test]
    fn a_sample_just_after_the_start_does_not_leave_a_tiny_step() {
        // After 5 h the step has settled near 1 h; the samples then sit 1e-9
        // h after whole hours, so the first step is cut to 1e-9 h to join
        // their grid. The next step is the one planned before the cut, not
        // six times the cut one (which took a dozen steps to regrow).
        let opts = workload_tolerances();
        let mut solver = Dop853::new(1, opts);
        let mut y = [100.0];
        solver
            .integrate(&mut depot, 0.0, 5.0, &mut y)
            .expect("integrates");
        let before = solver.stats().accepted;
        let times: Vec<f64> = (5..12).map(|h| f64::from(h) + 1e-9).collect();
        let mut out = vec![0.0; times.len()];
        solver
            .integrate_dense(&mut depot, 5.0, 12.0, &mut y, &times, &mut out, false)
            .expect("integrates");
        let steps = solver.stats().accepted - before;
        assert!(steps <= 10, "{steps} steps for 7 h");
        for (t, v) in times.iter().zip(&out) {
            let exact = 100.0 * (-t).exp();
            assert!((v - exact).abs() <= 1e-5 * exact + 1e-8, "t = {t}: {v}");
        }
    }

    #[test]
    fn restart_after_a_dose_takes_the_step_settled_on_after_the_last_one() {
        let opts = workload_tolerances();
        let mut s = Dop853::new(2, opts);
        let mut y = [0.0, 0.0];
        let mut steps = Vec::new();
        for dose in 0..14 {
            y[0] += 100.0;
            let t0 = f64::from(dose) * 24.0;
            let before = s.stats().accepted;
            s.integrate(&mut oral, t0, t0 + 24.0, &mut y)
                .expect("integrates");
            steps.push(s.stats().accepted - before);
        }
        // Without the rule the step grown over each interval's smooth end
        // was rejected about twice after every dose.
        assert!(s.stats().rejected <= 2, "{:?}", s.stats());
        // The first interval climbs from the initial step; after the second
        // the restart step is the settled one and every interval takes the
        // same steps (with the first step after each jump as the restart,
        // grew by the 6× bound per dose: 27, 26, 25, ... 21, 20 steps).
        assert!(steps[1..].iter().all(|&n| n == steps[1]), "{steps:?}");
        assert!(steps[1] < steps[0], "{steps:?}");
        // Against the closed form of the last interval's end.
        let (ka, k) = (1.0f64, 0.1f64);
        let central: f64 = (0..14)
            .map(|i| {
                let t = 336.0 - f64::from(i) * 24.0;
                100.0 * ka / (ka - k) * ((-k * t).exp() - (-ka * t).exp())
            })
            .sum();
        assert!(
            ((y[1] - central) / central).abs() < 1e-6,
            "{} vs {central}",
            y[1]
        );
    }

    #[test]
    fn continuing_without_a_jump_keeps_the_controllers_step() {
        let opts = SolverOptions {
            rtol: 1e-8,
            atol: 1e-12,
            ..SolverOptions::default()
        };
        let mut whole = Dop853::new(2, opts);
        let mut y = [100.0, 0.0];
        whole
            .integrate(&mut oral, 0.0, 48.0, &mut y)
            .expect("integrates");
        let mut split = Dop853::new(2, opts);
        let mut y2 = [100.0, 0.0];
        for i in 0..4 {
            let t0 = f64::from(i) * 12.0;
            split
                .integrate(&mut oral, t0, t0 + 12.0, &mut y2)
                .expect("integrates");
        }
        // Each restart lands on a boundary (at most one extra step each),
        // but none starts over from a small step.
        assert!(
            split.stats().accepted <= whole.stats().accepted + 3,
            "{:?} vs {:?}",
            split.stats(),
            whole.stats()
        );
        assert!(((y2[1] - y[1]) / y[1]).abs() < 1e-7);
    }

    #[test]
    fn nan_rhs_is_reported_with_state() {
        let mut s = Dop853::new(2, SolverOptions::default());
        let mut y = [1.0, 1.0];
        let mut f = |_t: f64, _y: &[f64], d: &mut [f64]| {
            d[0] = 0.0;
            d[1] = f64::NAN;
        };
        let e = s.integrate(&mut f, 0.0, 1.0, &mut y);
        assert_eq!(e, Err(SolverError::NonFinite { t: 0.0, state: 1 }));
    }

    #[test]
    fn a_step_without_error_grows_by_the_bound() {
        // y' = 0: every error estimate is exactly 0, the reciprocal norm
        // +∞. Each step is accepted and the next is 6× longer (the growth
        // bound), from the initial step (1e-6 h) to 1000 h in about a dozen.
        let mut s = Dop853::new(1, SolverOptions::default());
        let mut y = [1.0];
        let mut f = |_t: f64, _y: &[f64], d: &mut [f64]| d[0] = 0.0;
        s.integrate(&mut f, 0.0, 1000.0, &mut y)
            .expect("integrates");
        assert_eq!(y, [1.0]);
        let st = s.stats();
        assert_eq!(st.rejected, 0, "{st:?}");
        assert!((10..=14).contains(&st.accepted), "{st:?}");
    }

    #[test]
    fn stiff_problem_is_detected() {
        // y' = −1000 (y − cos t): the step is held at the stability
        // boundary long before accuracy would limit it.
        let opts = workload_tolerances();
        let mut s = Dop853::new(1, opts);
        let mut y = [0.0];
        let mut f = |t: f64, y: &[f64], d: &mut [f64]| d[0] = -1000.0 * (y[0] - t.cos());
        let outcome = s
            .integrate_detect_stiff(&mut f, 0.0, 10.0, &mut y)
            .expect("integrates");
        assert!(
            matches!(outcome, Outcome::Stiff { t } if t < 0.5),
            "{outcome:?}"
        );
    }

    #[test]
    fn accuracy_limited_steps_are_not_stiff() {
        for rtol in [1e-3, 1e-6] {
            let opts = SolverOptions {
                rtol,
                atol: rtol * 1e-3,
                ..SolverOptions::default()
            };
            let mut s = Dop853::new(2, opts);
            let mut y = [1.0, 0.0];
            let outcome = s
                .integrate_detect_stiff(&mut rotation, 0.0, 100.0, &mut y)
                .expect("integrates");
            assert_eq!(outcome, Outcome::Reached, "rtol {rtol}");
            let mut s = Dop853::new(1, opts);
            let mut y = [1.0];
            let outcome = s
                .integrate_detect_stiff(&mut decay, 0.0, 100.0, &mut y)
                .expect("integrates");
            assert_eq!(outcome, Outcome::Reached, "rtol {rtol}");
        }
    }
}
