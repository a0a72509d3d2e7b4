using System.Buffers.Binary;
using System.Text;
using FFLib.Compute;
using FFLib.IO;
using FFLib.Layers;
using FFLib.Models;
using Xunit;

namespace FFLib.Tests;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fflib-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static (FFNetwork Net, Matrix Images) TrainedSmall(LossDirection dir)
    {
        var cfg = new FFNetworkConfig { ImageFeatures = 20, Classes = 4, HiddenSizes = [16, 12, 8], Threshold = 2f, Loss = dir };
        var net = new FFNetwork(cfg, new FFRandom(11));
        var r = new FFRandom(12);
        var images = new Matrix(32, 20);
        for (int i = 0; i < images.Length; i++) images.Data[i] = r.NextSingle();
        var labels = Enumerable.Range(0, 32).Select(i => i % 4).ToArray();
        var neg = labels.Select(l => (l + 1) % 4).ToArray();
        for (int s = 0; s < 5; s++) net.TrainBatch(images, labels, neg);
        return (net, images);
    }

    [Theory]
    [InlineData(LossDirection.Minimize)]
    [InlineData(LossDirection.Maximize)]
    public void RoundTripGivesIdenticalPredictions(LossDirection dir)
    {
        var (net, images) = TrainedSmall(dir);
        string path = Path.Combine(_dir, "m.safetensors");
        ModelCheckpoint.Save(path, net, new() { ["dataset"] = "mnist", ["seed"] = 11 });
        var loaded = ModelCheckpoint.Load(path);
        Assert.Equal(net.Config.HiddenSizes, ((FFNetwork)loaded.Model).Config.HiddenSizes);
        Assert.Equal(dir, ((FFNetwork)loaded.Model).Config.Loss);
        Assert.Equal("mnist", loaded.Training["dataset"]!.GetValue<string>());
        Assert.Equal(net.LabelScores(images).Data, ((FFNetwork)loaded.Model).LabelScores(images).Data);
        Assert.Equal(net.Predict(images), ((FFNetwork)loaded.Model).Predict(images));
        for (int l = 0; l < 3; l++)
        {
            Assert.Equal(net.Layers[l].Weight.Data, ((FFNetwork)loaded.Model).Layers[l].Weight.Data);
            Assert.Equal(net.Layers[l].Bias, ((FFNetwork)loaded.Model).Layers[l].Bias);
        }
        // No temporary files are left behind.
        Assert.Single(Directory.GetFiles(_dir));
    }

    [Fact]
    public void FileIsStandardSafetensors()
    {
        var (net, _) = TrainedSmall(LossDirection.Minimize);
        string path = Path.Combine(_dir, "m.safetensors");
        ModelCheckpoint.Save(path, net);
        var bytes = File.ReadAllBytes(path);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Contains("\"layers.0.weight\":{\"dtype\":\"F32\",\"shape\":[16,24]", header);
        Assert.Contains("\"format\":\"fflib-model\"", header);
        long expectedData = (16 * 24 + 16 + 12 * 16 + 12 + 8 * 12 + 8) * 4;
        Assert.Equal(8 + (long)n + expectedData, bytes.Length);
    }

    private string WriteRaw(string header, int dataBytes = 0, ulong? claimedLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        string p = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".safetensors");
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 1UL << 40, "header length")]
    [InlineData("{not json", 0, null, "not valid JSON")]
    [InlineData("[1,2]", 0, null, "not a JSON object")]
    [InlineData("{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, null, "dtype F16")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, null, "outside")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, null, "span 8 bytes")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, null, "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, null, "invalid dimension")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, null, "data_offsets")]
    [InlineData("{\"__metadata__\":{\"x\":1}}", 0, null, "not a string")]
    public void MalformedSafetensorsAreRejectedWithTheFileName(string header, int dataBytes, ulong? claimed, string expected)
    {
        string p = WriteRaw(header, dataBytes, claimed);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensors.Read(p));
        Assert.Contains(p, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void ModelWithWrongShapesOrMetadataIsRejected()
    {
        string p = Path.Combine(_dir, "bad.safetensors");
        SafeTensors.Write(p, [new NamedTensor("layers.0.weight", [3, 5], new float[15]), new NamedTensor("layers.0.bias", [3], new float[3])],
            new Dictionary<string, string>
            {
                ["format"] = "fflib-model", ["format_version"] = "1", ["architecture"] = "ffnn",
                ["config"] = "{\"image_features\":4,\"classes\":2,\"hidden_sizes\":[3],\"threshold\":1,\"loss\":\"min\",\"learning_rate\":0.02}",
            });
        // image_features 4 + classes 2 = 6 inputs, but the weight has 5 columns.
        var e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(p));
        Assert.Contains("[3, 6]", e.Message);
    }
}
