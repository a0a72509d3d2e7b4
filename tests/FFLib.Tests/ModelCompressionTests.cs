using FFLib.Coding;
using FFLib.Compute;
using FFLib.Data;
using FFLib.IO;
using FFLib.ModelCompression;
using FFLib.Models;
using FFLib.Training;
using Xunit;

namespace FFLib.Tests;

/// <summary>Bit packing, rANS, lossless coders, quantisers, compressed model files and the compression study.</summary>
public sealed class ModelCompressionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-compress-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Skewed(int n, int seed, int alphabet = 16)
    {
        // Geometric-like: symbol s with probability ∝ 2^−s, as quantised weights near zero are.
        var r = new FFRandom(seed);
        var data = new byte[n];
        for (int i = 0; i < n; i++)
        {
            int s = 0;
            while (s < alphabet - 1 && r.NextSingle() < 0.5f) s++;
            data[i] = (byte)s;
        }
        return data;
    }

    [Theory]
    [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)] [InlineData(7)] [InlineData(8)]
    public void BitPackingRoundTripsAndTakesTheStatedBytes(int bits)
    {
        var r = new FFRandom(bits);
        foreach (int n in new[] { 0, 1, 7, 8, 9, 1001 })
        {
            var codes = Enumerable.Range(0, n).Select(_ => (byte)r.NextInt(1 << bits)).ToArray();
            var packed = BitPacking.Pack(codes, bits);
            Assert.Equal((n * bits + 7) / 8, packed.Length);
            Assert.Equal(codes, BitPacking.Unpack(packed, n, bits));
        }
        // Known layout: codes 1, 2, 3 at 2 bits = 0b00_11_10_01.
        Assert.Equal([0b00111001], BitPacking.Pack([1, 2, 3], 2));
    }

    [Fact]
    public void BitPackingRefusesCodesThatDoNotFitAndWrongLengths()
    {
        Assert.Throws<ArgumentException>(() => BitPacking.Pack([4], 2));
        Assert.Throws<ArgumentException>(() => BitPacking.Unpack(new byte[3], 7, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPacking.Pack([1], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BitPacking.Pack([1], 9));
    }

    [Fact]
    public void EntropyHasItsKnownValues()
    {
        Assert.Equal(1.0, SymbolEntropy.BitsPerSymbol([0, 0, 1, 1]), 12);
        Assert.Equal(0.0, SymbolEntropy.BitsPerSymbol([5, 5, 5]), 12);
        Assert.Equal(8.0, SymbolEntropy.BitsPerSymbol(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray()), 12);
        // p = (1/2, 1/4, 1/4): H = 1.5 bits, 4 symbols → 6 bits → 1 byte.
        Assert.Equal(1.5, SymbolEntropy.BitsPerSymbol([0, 0, 1, 2]), 12);
        Assert.Equal(1, SymbolEntropy.Bytes([0, 0, 1, 2]));
    }

    [Fact]
    public void RansRoundTripsAndComesWithinItsTableOfTheEntropy()
    {
        foreach (var data in new[] { Array.Empty<byte>(), new byte[] { 7 }, new byte[1000], Enumerable.Range(0, 5000).Select(i => (byte)(i * 31)).ToArray(), Skewed(200_000, 1) })
        {
            var coded = RansCoder.Encode(data);
            Assert.Equal(data, RansCoder.Decode(coded));
        }
        var skewed = Skewed(200_000, 2);
        long entropy = SymbolEntropy.Bytes(skewed);
        long size = RansCoder.Encode(skewed).Length;
        // 2^15 frequencies cost well under 0.5 % on this stream; the table is < 50 bytes for 16 symbols.
        Assert.InRange(size, entropy, entropy * 1.005 + 60);
        // A constant stream costs its header only.
        Assert.True(RansCoder.Encode(new byte[100_000]).Length < 16);
    }

    [Fact]
    public void RansRefusesDamagedStreams()
    {
        var coded = RansCoder.Encode(Skewed(5000, 3));
        Assert.Throws<InvalidDataException>(() => RansCoder.Decode(coded[..^10]));
        Assert.Throws<InvalidDataException>(() => RansCoder.Decode([.. coded, 1]));
        Assert.Throws<InvalidDataException>(() => RansCoder.Decode(coded[..3]));
        var bad = (byte[])coded.Clone();
        bad[^1] ^= 0x55; // a flipped bit in the data ends in a wrong final state or a wrong length
        Assert.Throws<InvalidDataException>(() => RansCoder.Decode(bad));
        Assert.Throws<InvalidDataException>(() => RansCoder.Decode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]));
    }

    [Fact]
    public void TheContextCoderRoundTripsAndBeatsTheOrderZeroBoundWhereNeighboursPredict()
    {
        var random = new FFRandom(9);
        var wide = Enumerable.Range(0, 30_000).Select(_ => (byte)random.NextInt(256)).ToArray();
        foreach (var (data, row) in new[] { (Array.Empty<byte>(), 5), (new byte[] { 7 }, 1), (new byte[1000], 10), (wide, 300), (wide, 1), (Skewed(200_000, 1), 2000), (Skewed(777, 5), 1000) })
            Assert.Equal(data, ContextCoder.Decode(ContextCoder.Encode(data, row)));

        // Codes with no context to find: within 2 % of the order-0 bound (the price of learning the frequencies).
        var iid = Skewed(200_000, 2);
        long entropy = SymbolEntropy.Bytes(iid), size = ContextCoder.Encode(iid, 1000).Length;
        Assert.InRange(size, entropy * 0.99, entropy * 1.02);

        // A matrix whose first and last 30 columns hold the centre code in every row, as an FFNN's never-trained
        // border pixels do, around random codes: the neighbours predict, so the coder beats the order-0 entropy by far.
        int rows = 400, cols = 100;
        var matrix = new byte[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) matrix[r * cols + c] = c is < 30 or >= 70 ? (byte)7 : (byte)random.NextInt(16);
        long order0 = SymbolEntropy.Bytes(matrix), context = ContextCoder.Encode(matrix, cols).Length;
        Assert.True(context < 0.9 * order0, $"{context} bytes against the order-0 bound's {order0}");
        Assert.Equal(matrix, ContextCoder.Decode(ContextCoder.Encode(matrix, cols)));

        // Damage is refused: cut, lengthened, a header that claims more codes than follow.
        var coded = ContextCoder.Encode(Skewed(5000, 3), 50);
        Assert.Throws<InvalidDataException>(() => ContextCoder.Decode(coded[..^10]));
        Assert.Throws<InvalidDataException>(() => ContextCoder.Decode([.. coded, 1]));
        Assert.Throws<InvalidDataException>(() => ContextCoder.Decode(coded[..2]));
        Assert.Throws<InvalidDataException>(() => ContextCoder.Decode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 1, 3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ContextCoder.Encode([1, 2], 0));
    }

    [Fact]
    public void EveryLosslessCoderRoundTripsAndRefusesDamage()
    {
        var data = Skewed(50_000, 4).Concat(Enumerable.Range(0, 3000).Select(i => (byte)i)).ToArray();
        foreach (var coder in LosslessCoders.All.Prepend(LosslessCoder.None))
        {
            var coded = LosslessCoders.Encode(coder, data);
            Assert.Equal(data, LosslessCoders.Decode(coder, coded));
            if (coder != LosslessCoder.None) Assert.True(coded.Length < data.Length / 2, $"{coder}: {coded.Length} of {data.Length}");
            if (coder != LosslessCoder.None) Assert.True(Assert.Throws<InvalidDataException>(() => LosslessCoders.Decode(coder, coded[..(coded.Length / 2)])) is not null, coder.ToString());
        }
    }

    [Fact]
    public void UniformQuantisationHasItsKnownCodesAndHalfAStepOfError()
    {
        // Symmetric 2 bits: step = 1, codes centred on 1 → −1, 0, 0.4, 1 become codes 0, 1, 1, 2.
        var m = WeightQuantizer.Uniform("w", [-1f, 0f, 0.4f, 1f], 1, 4, 2, symmetric: true);
        Assert.Equal([0, 1, 1, 2], m.Codes);
        Assert.Equal([-1f, 0f, 0f, 1f], m.Dequantize());
        // Asymmetric 2 bits over [−1, 2]: step 1, codes 0..3 exactly.
        var a = WeightQuantizer.Uniform("w", [-1f, 0f, 1f, 2f], 1, 4, 2, symmetric: false);
        Assert.Equal([0, 1, 2, 3], a.Codes);
        Assert.Equal([-1f, 0f, 1f, 2f], a.Dequantize());

        var r = new FFRandom(5);
        var w = Enumerable.Range(0, 40 * 30).Select(_ => (r.NextSingle() - 0.3f) * (1 + r.NextInt(3))).ToArray();
        foreach (bool symmetric in new[] { true, false })
            foreach (int bits in new[] { 2, 4, 8 })
            {
                var q = WeightQuantizer.Uniform("w", w, 40, 30, bits, symmetric);
                var back = q.Dequantize();
                for (int i = 0; i < w.Length; i++)
                    Assert.True(MathF.Abs(back[i] - w[i]) <= q.Scale![i / 30] * 0.5f + 1e-6f, $"{bits} bits {(symmetric ? "sym" : "asym")}: weight {i}");
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightQuantizer.Uniform("w", w, 40, 30, 9, true));
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightQuantizer.Uniform("w", w, 40, 30, 1, true));
    }

    [Fact]
    public void KMeansFindsTightClustersAndRefusesACodebookLargerThanTheLayer()
    {
        var r = new FFRandom(6);
        float[] centres = [-0.8f, -0.1f, 0.05f, 0.6f];
        var w = Enumerable.Range(0, 4000).Select(i => centres[i % 4] + (r.NextSingle() - 0.5f) * 0.01f).ToArray();
        var m = WeightQuantizer.Cluster("w", w, 40, 100, 4);
        Assert.Equal(2, m.Bits);
        for (int j = 0; j < 4; j++) Assert.InRange(m.Codebook![j], centres[j] - 0.005f, centres[j] + 0.005f);
        for (int i = 0; i < w.Length; i++) Assert.Equal(i % 4, m.Codes[i]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => WeightQuantizer.Cluster("layers.0.weight", [1f, 2f, 3f], 1, 3, 4));
        Assert.Contains("layers.0.weight", e.Message);
        // A 16-value codebook is never worse than 4 evenly spaced levels (the start it improves on).
        var spread = Enumerable.Range(0, 3000).Select(_ => (r.NextSingle() - 0.5f) * r.NextSingle()).ToArray();
        double Err(float[] x, float[] y) => x.Zip(y).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second));
        Assert.True(Err(spread, WeightQuantizer.Cluster("w", spread, 30, 100, 16).Dequantize()) < Err(spread, WeightQuantizer.Uniform("w", spread, 30, 100, 4, false).Dequantize()) * 4);
    }

    /// <summary>A matrix with singular values 1, 0.8, 0.64, … (geometric decay), as trained weights roughly have.</summary>
    private static float[] Decaying(int rows, int cols, int seed, double decay = 0.8)
    {
        var r = new FFRandom(seed);
        var a = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(rows, cols, (_, _) => r.NextDouble() - 0.5);
        var svd = a.Svd(true);
        var s = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(rows, cols);
        for (int i = 0; i < Math.Min(rows, cols); i++) s[i, i] = Math.Pow(decay, i);
        var w = svd.U * s * svd.VT;
        return Enumerable.Range(0, rows * cols).Select(i => (float)w[i / cols, i % cols]).ToArray();
    }

    private static double FrobeniusError(float[] a, float[] b) => Math.Sqrt(a.Zip(b).Sum(p => (double)(p.First - p.Second) * (p.First - p.Second)));

    [Fact]
    public void RandomizedLowRankComesWithinAPerMilleOfTheOptimalTruncatedSvd()
    {
        foreach (var (rows, cols, rank, decay) in new[] { (120, 80, 10, 0.8), (60, 150, 20, 0.9), (100, 100, 30, 0.95) })
        {
            var w = Decaying(rows, cols, rows + cols, decay);
            var f = LowRank.Factor("w", w, rows, cols, rank);
            Assert.Equal(rows * rank, f.U.Length);
            Assert.Equal(rank * cols, f.V.Length);
            // Optimal error (Eckart–Young): the norm of the dropped singular values.
            double optimal = Math.Sqrt(Enumerable.Range(rank, Math.Min(rows, cols) - rank).Sum(i => Math.Pow(decay, 2 * i)));
            double error = FrobeniusError(w, f.Reconstruct());
            Assert.InRange(error, optimal * 0.999, optimal * 1.001 + 1e-5);
        }
        // An exactly low-rank matrix comes back whole.
        var r = new FFRandom(8);
        var u = Enumerable.Range(0, 50 * 3).Select(_ => r.NextSingle() - 0.5f).ToArray();
        var v = Enumerable.Range(0, 3 * 40).Select(_ => r.NextSingle() - 0.5f).ToArray();
        var exact = new LowRankMatrix { Name = "w", Rows = 50, Cols = 40, Rank = 3, U = u, V = v }.Reconstruct();
        Assert.True(FrobeniusError(exact, LowRank.Factor("w", exact, 50, 40, 3).Reconstruct()) < 1e-4);
        Assert.Throws<ArgumentOutOfRangeException>(() => LowRank.Factor("w", exact, 50, 40, 41));
        Assert.Throws<ArgumentOutOfRangeException>(() => LowRank.Factor("w", exact, 50, 40, 0));
    }

    [Fact]
    public void LowRankFilesStoreTheFactorsQuantisedOrNotAndLoadTheirProduct()
    {
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 30, Classes = 3, HiddenSizes = [40, 40], Threshold = 1f }, new FFRandom(1));
        var factors = LowRank.Factor(model, 8);
        Assert.Equal(["layers.0.weight", "layers.1.weight"], factors.Select(f => f.Name));
        foreach (var format in new[] { WeightFormat.Float32, WeightFormat.Uniform(8, true), WeightFormat.Codebook(16) })
        {
            var packed = WeightQuantizer.Pack(model, factors, format);
            string path = Path.Combine(_dir, $"lowrank-{format.Id}.safetensors");
            CompressedWeights.Save(path, model, packed, entropyCoded: format.Scheme is not null, lowRank: factors);
            var loaded = ModelCheckpoint.Load(path).Model.Parameters().ToDictionary(p => p.Name);
            var unpacked = packed.ToDictionary(m => m.Name, m => m.Dequantize());
            foreach (var f in factors)
            {
                var expected = new LowRankMatrix { Name = f.Name, Rows = f.Rows, Cols = f.Cols, Rank = f.Rank,
                    U = unpacked.GetValueOrDefault(f.UName, f.U), V = unpacked.GetValueOrDefault(f.VName, f.V) }.Reconstruct();
                Assert.Equal(expected, loaded[f.Name].Data);
            }
            Assert.Equal(model.Parameters().Single(p => p.Name == "layers.0.bias").Data, loaded["layers.0.bias"].Data);
        }
        // A stored factor of the wrong shape is named.
        string good = Path.Combine(_dir, "lowrank-fp32.safetensors");
        var file = SafeTensors.Read(good);
        string bad = Path.Combine(_dir, "lowrank-bad.safetensors");
        SafeTensors.Write(bad, file.Tensors.Select(t => t.Name == "layers.1.weight.lowrank_v" ? new NamedTensor(t.Name, [4, 80], t.Data) : t).ToList(), file.Metadata);
        Assert.Contains("layers.1.weight.lowrank_v (F32 [8, 40]) is missing", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(bad)).Message);
    }

    [Fact]
    public void PruningInRoundsDownOneRankingRemovesTheNeuronsOneShotRemoves()
    {
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [30, 20], Threshold = 1f }, new FFRandom(5));
        var ranking = FFLib.Pruning.NeuronPruning.RandomRanking(model, new FFRandom(6));
        var oneShot = FFLib.Pruning.NeuronPruning.Prune(model, ranking, 7);
        var first = FFLib.Pruning.NeuronPruning.Prune(model, ranking, 15);
        var twice = FFLib.Pruning.NeuronPruning.Prune(first, FFLib.Pruning.NeuronPruning.RankingAfter(ranking, 15), 7);
        Assert.Equal(oneShot.Parameters().Select(p => p.Data), twice.Parameters().Select(p => p.Data));

        var train = GpuPipelineTests.Synthetic(120);
        var options = new CompressionOptions { Keep = [30, 7], Formats = [WeightFormat.Float32], PruneRounds = 3, FinetuneEpochs = 1, FinetuneLearningRate = 1e-3f };
        var records = CompressionStudy.Run(model, train, options, Path.Combine(_dir, "rounds"), finetuneData: train);
        Assert.Equal(["fp32", "prune-random keep 7 in 3 rounds → finetune 1 each"], records.Select(r => r.Method));
        Assert.Throws<ArgumentException>(() => CompressionStudy.Run(model, train, options with { FinetuneEpochs = 0 }, Path.Combine(_dir, "r2")));
    }

    [Fact]
    public void OutlierColumnsStayExactAndLeaveTheGridToTheOtherColumns()
    {
        // 40 × 60 small weights with three columns 50× larger, as an FFNN's label inputs are.
        var r = new FFRandom(11);
        int rows = 40, cols = 60;
        var w = Enumerable.Range(0, rows * cols).Select(_ => (r.NextSingle() - 0.5f) * 0.1f).ToArray();
        int[] big = [7, 30, 59];
        for (int i = 0; i < rows; i++) foreach (int c in big) w[i * cols + c] = (r.NextSingle() - 0.5f) * 5f;
        Assert.Equal(big, WeightQuantizer.OutlierColumns(w, rows, cols));
        double Err(float[] a) => Enumerable.Range(0, a.Length).Where(i => !big.Contains(i % cols)).Sum(i => (double)(a[i] - w[i]) * (a[i] - w[i]));
        foreach (var format in new[] { "int4", "int4-asym", "kmeans16" })
        {
            var plain = WeightFormat.TryParse(format, out _)!;
            var kept = WeightFormat.TryParse(format + "+outliers", out _)!;
            Assert.True(kept.Outliers);
            Assert.Equal(format + "+outliers", kept.Id);
            FFLib.IO.PackedMatrix Pack(WeightFormat f) => f.Scheme == WeightScheme.Codebook
                ? WeightQuantizer.Cluster("w", w, rows, cols, 16, outlierColumns: f.Outliers ? WeightQuantizer.OutlierColumns(w, rows, cols) : null)
                : WeightQuantizer.Uniform("w", w, rows, cols, 4, f.Scheme == WeightScheme.Symmetric, f.Outliers ? WeightQuantizer.OutlierColumns(w, rows, cols) : null);
            var withOutliers = Pack(kept).Dequantize();
            foreach (int i in Enumerable.Range(0, rows)) foreach (int c in big) Assert.Equal(w[i * cols + c], withOutliers[i * cols + c]);
            // The other columns are represented at least 10× better than when the big columns set the grid.
            Assert.True(Err(withOutliers) * 10 < Err(Pack(plain).Dequantize()), format);
        }
        Assert.Null(WeightFormat.TryParse("fp32+outliers", out var problem));
        Assert.Contains("float32 has nothing to keep apart", problem);
    }

    [Fact]
    public void OutlierColumnsRoundTripThroughFilesAndDamageIsNamed()
    {
        var model = SmallNetwork();
        // Make the label columns of layer 0 (the last 3 of its 15 inputs) the outliers.
        var w0 = model.Parameters().Single(p => p.Name == "layers.0.weight");
        for (int r = 0; r < w0.Rows; r++) for (int c = 12; c < 15; c++) w0.Data[r * w0.Cols + c] *= 100;
        foreach (bool coded in new[] { false, true })
            foreach (var id in new[] { "int4+outliers", "kmeans16+outliers" })
            {
                var packed = WeightQuantizer.Pack(model, WeightFormat.TryParse(id, out _)!);
                Assert.Equal([12, 13, 14], packed[0].OutlierColumns!);
                string path = Path.Combine(_dir, $"{id}-{coded}.safetensors");
                CompressedWeights.Save(path, model, packed, coded);
                var loaded = ModelCheckpoint.Load(path).Model.Parameters();
                Assert.Equal(packed[0].Dequantize(), loaded.Single(p => p.Name == "layers.0.weight").Data);
            }
        string good = Path.Combine(_dir, "int4+outliers-False.safetensors");
        var file = SafeTensors.Read(good);
        string bad = Path.Combine(_dir, "no-outlier-values.safetensors");
        SafeTensors.Write(bad, file.Tensors.Where(t => t.Name != "layers.0.weight.outlier_values").ToList(), file.Metadata);
        Assert.Contains("layers.0.weight.outlier_values (F32 [20, 3]) is missing", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(bad)).Message);
    }

    private static FFNetwork SmallNetwork() => new(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [20, 16], Threshold = 1f }, new FFRandom(1));

    [Theory]
    [InlineData("int8", CodeStorage.BitPacked)] [InlineData("int4", CodeStorage.Rans)] [InlineData("int2-asym", CodeStorage.BitPacked)] [InlineData("int3-asym", CodeStorage.Rans)]
    [InlineData("kmeans16", CodeStorage.Rans)] [InlineData("kmeans5", CodeStorage.BitPacked)] [InlineData("int8", CodeStorage.Context)] [InlineData("kmeans16", CodeStorage.Context)]
    public void CompressedFilesLoadToTheWeightsTheirCodesStandFor(string formatId, CodeStorage storage)
    {
        var model = SmallNetwork();
        var format = WeightFormat.TryParse(formatId, out _)!;
        var packed = WeightQuantizer.Pack(model, format);
        Assert.Equal(2, packed.Count);
        string path = Path.Combine(_dir, $"{formatId}.safetensors");
        CompressedWeights.Save(path, model, packed, storage);
        var loaded = ModelCheckpoint.Load(path).Model;
        var expected = WeightQuantizer.Apply(model, packed);
        foreach (var (p, q) in loaded.Parameters().Zip(expected.Parameters())) Assert.Equal(q.Data, p.Data);
        var x = TestUtil.RandomMatrix(30, 12, new FFRandom(2));
        Assert.Equal(expected.Predict(x), loaded.Predict(x));
        // The codes come back as stored; a plain file of the same model is larger than a 4-bit one.
        var back = CompressedWeights.ReadPacked(path);
        Assert.Equal(packed.Select(m => m.Codes), back.Select(m => m.Codes));
        Assert.Contains($"\"entropy_coding\":\"{CompressedWeights.StorageId(storage)}\"", SafeTensors.Read(path).Metadata[CompressedWeights.MetadataKey]);
        Assert.Equal("2", SafeTensors.Read(path).Metadata["format_version"]);
    }

    [Theory]
    [InlineData("ffcnn-competitive", "int4", false)] [InlineData("ffcnn-competitive", "kmeans16", true)] [InlineData("bpcnn", "int3-asym", true)]
    public void ConvolutionKernelsAreStoredAsCodesAndComeBackInTheirOwnShape(string variant, string formatId, bool entropyCoded)
    {
        var model = (IClassifierModel)CnnExportTests.SmallCnn(variant);
        var format = WeightFormat.TryParse(formatId, out _)!;
        var packed = WeightQuantizer.Pack(model, format);
        var kernels = model.Parameters().Where(p => p.Shape.Length == 4).ToList();
        Assert.NotEmpty(kernels);
        Assert.All(kernels, k => Assert.Contains(packed, m => m.Name == k.Name && m.Rows == k.Shape[0] && m.Cols == k.Shape[1] * k.Shape[2] * k.Shape[3]));
        string path = Path.Combine(_dir, $"{variant}-{formatId}.safetensors");
        CompressedWeights.Save(path, model, packed, entropyCoded);
        var loaded = ModelCheckpoint.Load(path).Model;
        var expected = WeightQuantizer.Apply(model, packed);
        foreach (var (p, q) in loaded.Parameters().Zip(expected.Parameters()))
        {
            Assert.Equal(q.Shape, p.Shape);
            Assert.Equal(q.Data, p.Data);
        }
        var x = ExportTests.RandomImages(9, 100, 4);
        Assert.Equal(expected.Predict(x), loaded.Predict(x));
        // Low-rank factorisation leaves kernels whole (the C and ONNX exports factor matrices only).
        Assert.DoesNotContain(LowRank.Factor(model, 1), f => kernels.Any(k => k.Name == f.Name));
        // A tensor_shape that does not hold the matrix's values is named.
        var file = SafeTensors.Read(path);
        var meta = new Dictionary<string, string>(file.Metadata);
        var k0 = kernels[0];
        meta[CompressedWeights.MetadataKey] = meta[CompressedWeights.MetadataKey].Replace($"\"tensor_shape\":[{string.Join(",", k0.Shape)}]", $"\"tensor_shape\":[{k0.Shape[0]},{k0.Shape[1] + 1},{k0.Shape[2]},{k0.Shape[3]}]");
        Assert.NotEqual(file.Metadata[CompressedWeights.MetadataKey], meta[CompressedWeights.MetadataKey]);
        string bad = Path.Combine(_dir, $"{variant}-bad-shape.safetensors");
        SafeTensors.Write(bad, file.Tensors.ToList(), meta);
        Assert.Contains($"{k0.Name} has tensor_shape", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(bad)).Message);
    }

    [Fact]
    public void DamagedCompressedFilesAreRefusedWithTheFileAndTensorNamed()
    {
        var model = SmallNetwork();
        var packed = WeightQuantizer.Pack(model, WeightFormat.Uniform(4, false));
        string good = Path.Combine(_dir, "good.safetensors");
        CompressedWeights.Save(good, model, packed, entropyCoded: false);
        var file = SafeTensors.Read(good);

        string Write(string name, Func<NamedTensor, NamedTensor?> edit, Func<Dictionary<string, string>, Dictionary<string, string>>? meta = null)
        {
            string p = Path.Combine(_dir, name);
            SafeTensors.Write(p, file.Tensors.Select(edit).Where(t => t is not null).ToList()!, (meta ?? (m => m))(new Dictionary<string, string>(file.Metadata)));
            return p;
        }
        var missing = Write("missing.safetensors", t => t.Name == "layers.0.weight.minimum" ? null : t);
        Assert.Contains("layers.0.weight.minimum is missing", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(missing)).Message);
        var shortCodes = Write("short.safetensors", t => t.Name == "layers.0.weight.codes" ? NamedTensor.OfBytes(t.Name, t.Bytes![..^3]) : t);
        var e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(shortCodes));
        Assert.Contains("short.safetensors", e.Message);
        Assert.Contains("layers.0.weight.codes", e.Message);
        var noMeta = Write("nometa.safetensors", t => t, m => { m.Remove(CompressedWeights.MetadataKey); return m; });
        Assert.Contains("format_version 2 needs the compression metadata", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(noMeta)).Message);
        var badScheme = Write("scheme.safetensors", t => t, m => { m[CompressedWeights.MetadataKey] = m[CompressedWeights.MetadataKey].Replace("asymmetric", "log"); return m; });
        Assert.Contains("scheme \"log\"", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(badScheme)).Message);
        // Codes beyond a symmetric scheme's range (all ones = 15 at 4 bits; the largest symmetric code is 14).
        var sym = WeightQuantizer.Pack(model, WeightFormat.Uniform(4, true));
        string symPath = Path.Combine(_dir, "sym.safetensors");
        CompressedWeights.Save(symPath, model, sym, entropyCoded: false);
        file = SafeTensors.Read(symPath);
        var over = Write("over.safetensors", t => t.Name == "layers.1.weight.codes" ? NamedTensor.OfBytes(t.Name, t.Bytes!.Select(_ => (byte)0xFF).ToArray()) : t);
        Assert.Contains("code 15 at weight 0 exceeds 14", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(over)).Message);
    }

    [Fact]
    public void WeightFormatsParseAndRefuseWithTheValueNamed()
    {
        Assert.Equal("int4-asym", WeightFormat.TryParse("INT4-asym", out _)!.Id);
        Assert.Equal(4, WeightFormat.TryParse("kmeans16", out _)!.Bits);
        Assert.Equal(3, WeightFormat.TryParse("kmeans5", out _)!.Bits);
        Assert.Same(WeightFormat.Float32, WeightFormat.TryParse("fp32", out _));
        foreach (var bad in new[] { "int9", "int0", "int1", "kmeans1", "kmeans300", "float16", "int4-sym" })
        {
            Assert.Null(WeightFormat.TryParse(bad, out var problem));
            Assert.Contains($"'{bad}'", problem);
        }
    }

    [Fact]
    public void TheStudyMeasuresRealFilesAndItsFrontierIsMonotone()
    {
        var train = GpuPipelineTests.Synthetic(300);
        var test = GpuPipelineTests.Synthetic(90);
        var model = new FFNetwork(new FFNetworkConfig { ImageFeatures = 12, Classes = 3, HiddenSizes = [40, 40], Threshold = 1f }, new FFRandom(3));
        new Trainer().Train(model, train, null, new TrainingOptions { Epochs = 3, BatchSize = 50, ValidateEachEpoch = false }, new FFRandom(4));
        double full = Evaluation.Accuracy(model, test);
        var options = new CompressionOptions { Keep = [40, 20], Formats = [WeightFormat.Float32, WeightFormat.Uniform(8, true), WeightFormat.Uniform(2, false), WeightFormat.Codebook(4)] };
        var records = CompressionStudy.Run(model, test, options, Path.Combine(_dir, "work"));
        Assert.Equal(8, records.Count);
        var ranked = CompressionStudy.Run(model, test, options with { Keep = [40], Ranks = [0, 6], Formats = [WeightFormat.Float32] }, Path.Combine(_dir, "work2"));
        Assert.Equal(["fp32", "lowrank 6"], ranked.Select(r => r.Method));
        // W0 [40, 12 + 3 labels] and W1 [40, 40] as factors of rank 6, plus the two biases.
        Assert.Equal(40 * 15 + 40 * 40 + 80, ranked[0].Parameters);
        Assert.Equal(6 * (40 + 15) + 6 * (40 + 40) + 80, ranked[1].Parameters);
        Assert.True(ranked[1].Bytes < ranked[0].Bytes);
        var fp32 = records.Single(r => r.Keep == 40 && r.Format == "fp32");
        Assert.Equal(full, fp32.Accuracy); // unpruned float32 read back from its file predicts as the model does
        Assert.Null(fp32.RansBytes);
        foreach (var r in records.Where(r => r.Format != "fp32"))
        {
            Assert.True(r.EntropyBoundBytes <= r.Bytes, $"{r.Method}: bound {r.EntropyBoundBytes} > file {r.Bytes}");
            Assert.True(r.RansBytes >= r.EntropyBoundBytes, $"{r.Method}: rANS {r.RansBytes} below its entropy bound {r.EntropyBoundBytes}");
            Assert.InRange(r.EntropyBitsPerWeight!.Value, 0, int.Parse(r.Format.Replace("int", "").Replace("-asym", "").Replace("kmeans4", "2")));
            Assert.Equal(5, r.CodedBytes.Count); // gzip, brotli, lzma, zstd, and the context-coded file
            // On these structureless toy codes the context coder has nothing to find, but costs at most 10 % more than rANS
            // (less where rANS's table is large; its gain on codes whose neighbours predict them is tested on the coder itself).
            Assert.True(r.CodedBytes[CompressionStudy.ContextCoderId] <= r.RansBytes!.Value * 1.1, $"{r.Method}: context-coded {r.CodedBytes["context"]}, rANS {r.RansBytes}");
        }
        Assert.DoesNotContain(CompressionStudy.ContextCoderId, fp32.CodedBytes.Keys);
        // Smaller formats give smaller files at each kept count.
        foreach (int keep in new[] { 40, 20 })
        {
            var at = records.Where(r => r.Keep == keep).ToDictionary(r => r.Format);
            Assert.True(at["int2-asym"].Bytes < at["int8"].Bytes && at["int8"].Bytes < at["fp32"].Bytes);
        }
        var front = CompressionStudy.Frontier(records);
        for (int i = 1; i < front.Count; i++)
        {
            Assert.True(front[i].BestBytes >= front[i - 1].BestBytes);
            Assert.True(front[i].Accuracy > front[i - 1].Accuracy);
        }
        string csv = Path.Combine(_dir, "compress.csv");
        CompressionStudy.WriteCsv(csv, records);
        var lines = File.ReadAllLines(csv);
        Assert.Equal(9, lines.Length);
        var back = CompressionStudy.ReadCsv(csv);
        Assert.Equal(records.Select(r => (r.Method, r.Keep, r.Format, r.Rank, r.Parameters, r.Accuracy, r.Bytes, r.RansBytes, r.EntropyBoundBytes, r.BestBytes, r.BestCoder)),
            back.Select(r => (r.Method, r.Keep, r.Format, r.Rank, r.Parameters, r.Accuracy, r.Bytes, r.RansBytes, r.EntropyBoundBytes, r.BestBytes, r.BestCoder)));
        Assert.Equal(records[3].CodedBytes.OrderBy(kv => kv.Key), back[3].CodedBytes.OrderBy(kv => kv.Key));
        File.WriteAllLines(csv, lines.Take(3).Append("ffnn,\"int8\",40"));
        Assert.Contains("line 4 is malformed", Assert.Throws<InvalidDataException>(() => CompressionStudy.ReadCsv(csv)).Message);
        File.WriteAllText(csv, "architecture,accuracy\n");
        Assert.Contains("not a compress.csv", Assert.Throws<InvalidDataException>(() => CompressionStudy.ReadCsv(csv)).Message);
        Assert.StartsWith("architecture,method,keep,format,rank,seed,parameters,accuracy,bytes,gzip_bytes,brotli_bytes,lzma_bytes,zstd_bytes,context_bytes,rans_bytes", lines[0]);
    }
}
