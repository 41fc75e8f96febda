#include "Settings.h"

namespace mgb
{

juce::String TakeRecord::describe() const
{
    auto text = juce::File (path).getFileName() + "  (" + juce::String (bars, 2).trimCharactersAtEnd ("0").trimCharactersAtEnd (".")
              + " bars, " + juce::String (bpm, 2).trimCharactersAtEnd ("0").trimCharactersAtEnd (".") + " bpm, " + timesig
              + (seed >= 0 ? ", seed " + juce::String (seed) : juce::String()) + ")";
    return missing ? "[file missing] " + text : text;
}

std::unique_ptr<juce::XmlElement> PluginSettings::toXml() const
{
    auto xml = std::make_unique<juce::XmlElement> ("Settings");
    xml->setAttribute ("prompt", prompt);
    xml->setAttribute ("model", model);
    xml->setAttribute ("seed", seed);
    xml->setAttribute ("loudness", loudness);
    xml->setAttribute ("outDir", outDir);
    xml->setAttribute ("host", host);
    xml->setAttribute ("port", port);
    xml->setAttribute ("token", token);
    xml->setAttribute ("manualBpm", manualBpm);
    xml->setAttribute ("manualTimesig", juce::String (manualNumerator) + "/" + juce::String (manualDenominator));
    xml->setAttribute ("preview", preview ? 1 : 0);
    xml->setAttribute ("currentTake", currentTake);
    auto* list = xml->createNewChildElement ("Takes");
    for (const auto& t : takes)
    {
        auto* e = list->createNewChildElement ("Take");
        e->setAttribute ("path", t.path);
        e->setAttribute ("prompt", t.prompt);
        e->setAttribute ("model", t.model);
        e->setAttribute ("timesig", t.timesig);
        e->setAttribute ("bars", t.bars);
        e->setAttribute ("bpm", t.bpm);
        e->setAttribute ("seed", t.seed);
        e->setAttribute ("sampleRate", t.sampleRate);
    }
    return xml;
}

void PluginSettings::fromXml (const juce::XmlElement& xml)
{
    PluginSettings d;
    prompt = xml.getStringAttribute ("prompt", d.prompt).substring (0, 1000);
    model = xml.getStringAttribute ("model", d.model);
    seed = juce::jlimit (-1, 2147483647, xml.getIntAttribute ("seed", d.seed));
    loudness = xml.getStringAttribute ("loudness", d.loudness);
    if (loudness != "off" && loudness != "-14" && loudness != "-23")
        loudness = "off";
    outDir = xml.getStringAttribute ("outDir", d.outDir);
    host = xml.getStringAttribute ("host", d.host);
    port = juce::jlimit (1, 65535, xml.getIntAttribute ("port", d.port));
    token = xml.getStringAttribute ("token", d.token);
    manualBpm = juce::jlimit (20.0, 400.0, xml.getDoubleAttribute ("manualBpm", d.manualBpm));
    const auto sig = xml.getStringAttribute ("manualTimesig", "4/4");
    manualNumerator = juce::jlimit (1, 64, sig.upToFirstOccurrenceOf ("/", false, false).getIntValue());
    manualDenominator = sig.fromFirstOccurrenceOf ("/", false, false).getIntValue();
    if (manualDenominator != 1 && manualDenominator != 2 && manualDenominator != 4 && manualDenominator != 8
        && manualDenominator != 16 && manualDenominator != 32)
        manualDenominator = 4;
    preview = xml.getIntAttribute ("preview", 1) != 0;
    takes.clear();
    if (auto* list = xml.getChildByName ("Takes"))
    {
        for (auto* e : list->getChildWithTagNameIterator ("Take"))
        {
            TakeRecord t;
            t.path = e->getStringAttribute ("path");
            t.prompt = e->getStringAttribute ("prompt");
            t.model = e->getStringAttribute ("model");
            t.timesig = e->getStringAttribute ("timesig", "4/4");
            t.bars = e->getDoubleAttribute ("bars");
            t.bpm = e->getDoubleAttribute ("bpm");
            t.seed = e->getIntAttribute ("seed", -1);
            t.sampleRate = e->getIntAttribute ("sampleRate");
            if (t.path.isNotEmpty() && takes.size() < 1000)
                takes.push_back (t);
        }
    }
    currentTake = juce::jlimit (-1, (int) takes.size() - 1, xml.getIntAttribute ("currentTake", -1));
}

juce::String PluginSettings::checkTakeFiles()
{
    juce::StringArray gone;
    for (auto& t : takes)
    {
        t.missing = ! juce::File (t.path).existsAsFile();
        if (t.missing)
            gone.add (t.path);
    }
    if (gone.isEmpty())
        return {};
    return juce::String (gone.size()) + (gone.size() == 1 ? " take's file is" : " takes' files are")
         + " not on this machine (kept in the list; make them again from their recipe): " + gone.joinIntoString (", ");
}

juce::File defaultOutDir()
{
    const auto music = juce::File::getSpecialLocation (juce::File::userMusicDirectory);
    return music.getChildFile ("MusicGen Bridge").getChildFile (juce::Time::getCurrentTime().formatted ("%Y-%m-%d"));
}

juce::String checkOutDir (const juce::File& folder)
{
    if (! juce::File::isAbsolutePath (folder.getFullPathName()))
        return "The output folder must be an absolute path: " + folder.getFullPathName();
    if (! folder.exists())
        return "The output folder does not exist: " + folder.getFullPathName() + ". Choose another, or create it.";
    if (! folder.isDirectory())
        return "The output folder is a file, not a folder: " + folder.getFullPathName();
    if (! folder.hasWriteAccess())
        return "The output folder is not writable: " + folder.getFullPathName() + ". Choose another.";
    return {};
}

} // namespace mgb
