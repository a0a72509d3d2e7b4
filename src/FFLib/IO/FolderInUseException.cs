namespace FFLib.IO;

/// <summary>An output folder that another process is writing into now.</summary>
public sealed class FolderInUseException(string folder)
    : IOException($"{folder} is in use by another process (another fflib train or sweep writing there now); wait for it to finish, or choose another folder.")
{
    /// <summary>The folder.</summary>
    public string Folder { get; } = folder;
}
