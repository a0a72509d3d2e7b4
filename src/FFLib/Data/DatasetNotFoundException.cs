namespace FFLib.Data;

/// <summary>No usable copy of a dataset was found; the message lists every place searched and how to get the files.</summary>
public sealed class DatasetNotFoundException(string message) : Exception(message);
